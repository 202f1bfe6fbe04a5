// Node/Deno: preference data from files, with its validation split, as loadSftSplits: a path may be
// a file or a folder holding train.* (and valid.*); `valid` names validation data, else
// `valFraction` of the training rows is held out by `seed`. Rows are split before tokenization, so
// a KTO file's paired rows (unpaired into two examples) stay on one side together.
import type { Tokenizer } from '../../tokenizers/tokenizer.ts';
import { readSplitRecords, type SplitSource } from '../load.ts';
import { buildKtoDataset, buildPreferenceDataset, type KtoDataset, type PreferenceDataset, type PreferenceDatasetOptions } from './dataset.ts';

export interface LoadPreferenceOptions extends PreferenceDatasetOptions, SplitSource {}

export interface PreferenceSplits {
  train: PreferenceDataset;
  /** Null when there is no validation data. */
  val: PreferenceDataset | null;
}

export interface KtoSplits {
  train: KtoDataset;
  val: KtoDataset | null;
}

/** Preference pairs (DPO, ORPO, CPO/SimPO) and their validation split. */
export async function loadPreferenceSplits(train: string | string[], tokenizer: Tokenizer, options: LoadPreferenceOptions = {}): Promise<PreferenceSplits> {
  const rows = await readSplitRecords(train, options);
  return {
    train: buildPreferenceDataset(rows.train, tokenizer, options),
    val: rows.val === null ? null : buildPreferenceDataset(rows.val, tokenizer, options),
  };
}

/** KTO examples (unpaired rows, or pairs unpaired as TRL does) and their validation split. */
export async function loadKtoSplits(train: string | string[], tokenizer: Tokenizer, options: LoadPreferenceOptions = {}): Promise<KtoSplits> {
  const rows = await readSplitRecords(train, options);
  return {
    train: buildKtoDataset(rows.train, tokenizer, options),
    val: rows.val === null ? null : buildKtoDataset(rows.val, tokenizer, options),
  };
}
