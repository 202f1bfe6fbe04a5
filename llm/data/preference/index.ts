// Preference data (DPO, ORPO, CPO/SimPO pairs; KTO unpaired examples): formats, prompt extraction,
// tokenization and truncation as TRL 1.x, batches, resumable iterators. Browser-safe except load.ts.
export { collateKto, collatePreference, klRows, preferenceRows } from './collate.ts';
export type { KtoBatch, KtoExample, PreferenceBatch, PreferenceExample } from './collate.ts';
export { buildKtoDataset, buildPreferenceDataset } from './dataset.ts';
export type { KtoDataset, KtoDatasetStats, PreferenceDataset, PreferenceDatasetOptions, PreferenceDatasetStats, PreferenceField } from './dataset.ts';
export { extractPrompt } from './extract-prompt.ts';
export type { ExtractedPrompt } from './extract-prompt.ts';
export {
  detectPreferenceFormat,
  PAIRED_FORMATS,
  PREFERENCE_FORMAT_SHAPES,
  PREFERENCE_FORMATS,
  validatePreferenceRow,
  validateUnpairedRow,
} from './formats.ts';
export type { PairedFormat, PairedRow, PreferenceFormat, PreferenceText, PreferenceValidateOptions, UnpairedFormat, UnpairedRow, UnpairedText } from './formats.ts';
export { ktoBatchIterator, preferenceBatchIterator } from './iterator.ts';
export type { PreferenceBatchOptions } from './iterator.ts';
export { loadKtoSplits, loadPreferenceSplits } from './load.ts';
export type { KtoSplits, LoadPreferenceOptions, PreferenceSplits } from './load.ts';
export { tokenizeChatCompletions, tokenizeTextCompletions } from './tokenize.ts';
export type { PreferenceTokenizeOptions, TokenizedCompletions } from './tokenize.ts';
export { checkTruncationOptions, completionRow, limitPrompt } from './truncate.ts';
export type { TruncationMode, TruncationOptions } from './truncate.ts';
