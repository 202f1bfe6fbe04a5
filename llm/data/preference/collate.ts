// Preference examples -> padded batches of plain number arrays (the trainer makes tensors).
//
// Pairs (DPO, ORPO, CPO/SimPO): P pairs become 2P rows, rows 0..P-1 prompt + chosen and rows
// P..2P-1 prompt + rejected (TRL's DataCollatorForPreference: chosen half, then rejected half), all
// right-padded to one width so one forward pass scores both.
// KTO: one row per example, plus a second batch of mismatched rows for the KL estimate: row i pairs
// example i's prompt with the completion of example (i - 1) mod n of the same batch, TRL 1.x's
// rotation "(x_1, y_n), (x_2, y_1), ..., (x_n, y_{n-1})" (KTOTrainer `add_kl_completion_ids`,
// DataCollatorForUnpairedPreference), so the KL batch scores the same completions under other
// prompts.
//
// Labels follow the SFT Batch convention: labels[b][t] is the label OF token t (its input id on
// completion tokens, IGNORE_INDEX on prompt and padding); the loss shifts them. Rows are cut to the
// example's maxLength here, as TRL's collators cut them (truncate.ts), so a KL row keeps as much of
// its borrowed completion as fits after its own prompt.
import type { RecordLocation } from '../records.ts';
import { padBatch, type Batch, type PaddingOptions } from '../collate.ts';
import type { TokenizedExample } from '../labels.ts';
import type { PairedFormat, PreferenceFormat } from './formats.ts';
import { completionRow, type TruncationMode } from './truncate.ts';

/** A preference pair as token ids: chosen and rejected are completions only (the prompt is shared). */
export interface PreferenceExample extends RecordLocation {
  prompt: number[];
  chosen: number[];
  rejected: number[];
  format: PairedFormat;
  /** Rows longer than this are cut when batched (set by the dataset from its maxLength). */
  maxLength?: number;
  truncationMode?: TruncationMode;
}

/** One KTO example: a prompt, a completion, and whether the completion is desirable. */
export interface KtoExample extends RecordLocation {
  prompt: number[];
  completion: number[];
  label: boolean;
  format: PreferenceFormat;
  /** Rows (and KL rows) longer than this keep their first maxLength tokens when batched. */
  maxLength?: number;
}

/** P pairs as 2P rows: 0..P-1 prompt + chosen, P..2P-1 prompt + rejected. `examples` = P. */
export interface PreferenceBatch extends Batch {
  pairs: number;
}

/** KTO examples, one per row; `kl` holds the mismatched prompt/completion rows for the KL term. */
export interface KtoBatch extends Batch {
  desirable: boolean[];
  kl: Batch;
}

/** The two model rows of a pair, each cut to the example's maxLength. */
export function preferenceRows(ex: PreferenceExample): { chosen: TokenizedExample; rejected: TokenizedExample } {
  return {
    chosen: completionRow(ex.prompt, ex.chosen, ex.maxLength, ex.truncationMode),
    rejected: completionRow(ex.prompt, ex.rejected, ex.maxLength, ex.truncationMode),
  };
}

export function collatePreference(examples: readonly PreferenceExample[], options: PaddingOptions = {}): PreferenceBatch {
  if (examples.length === 0) throw new Error('collatePreference: no examples');
  const rows = examples.map(preferenceRows);
  const batch = padBatch([...rows.map((r) => r.chosen), ...rows.map((r) => r.rejected)], options);
  return { ...batch, examples: examples.length, pairs: examples.length };
}

/** Example i's prompt with the completion of example (i - 1) mod n, cut as its own row would be. */
export function klRows(examples: readonly KtoExample[]): TokenizedExample[] {
  const n = examples.length;
  return examples.map((ex, i) => completionRow(ex.prompt, examples[(i - 1 + n) % n].completion, ex.maxLength, 'keep_start'));
}

export function collateKto(examples: readonly KtoExample[], options: PaddingOptions = {}): KtoBatch {
  if (examples.length === 0) throw new Error('collateKto: no examples');
  const batch = padBatch(examples.map((ex) => completionRow(ex.prompt, ex.completion, ex.maxLength, 'keep_start')), options);
  return { ...batch, desirable: examples.map((ex) => ex.label), kl: padBatch(klRows(examples), options) };
}
