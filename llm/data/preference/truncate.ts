// Length limits on preference data, as TRL does them.
//
// maxLength (TRL 1.x, DataCollatorForPreference / DataCollatorForUnpairedPreference and
// `_prepare_dataset`, trl/trainer/dpo_trainer.py, kto_trainer.py): each row, prompt + completion,
// is cut on its own to maxLength tokens: its start kept ('keep_start', TRL's default and, from TRL
// 1.7, its only undeprecated mode) or its end ('keep_end', deprecated in TRL, DPO only). With
// keep_start an example whose prompt alone has maxLength tokens or more is dropped, since nothing
// of its completions would be left (TRL: "Dropping fully truncated examples"); KTO always
// truncates keep_start and always drops those. Chosen and rejected rows are cut separately, so with
// keep_end the two rows of a pair may keep different amounts of the prompt.
//
// maxPromptLength (TRL 1.x no longer has it; this is the rule of the TRL trainers that had both it
// and max_length: DPOTrainer.tokenize_row up to 0.11, and CPO/ORPO/KTO before their refactors):
// when prompt + the LONGER completion exceeds maxLength, the prompt is cut to maxPromptLength
// tokens, keeping its start under keep_start and its end under keep_end; if that is still too long,
// every completion is cut to its first maxLength - maxPromptLength tokens. Rows then fit maxLength.
import { IGNORE_INDEX, type TokenizedExample } from '../labels.ts';

export type TruncationMode = 'keep_start' | 'keep_end';

export interface TruncationOptions {
  /** Longest row (prompt + completion) in tokens. */
  maxLength?: number;
  /** Longest prompt, applied to pairs longer than maxLength (needs maxLength). */
  maxPromptLength?: number;
  /** Which end of a too-long row (and prompt) to keep. Default 'keep_start'. */
  truncationMode?: TruncationMode;
}

/** Checks the limits once, so every row can trust them. */
export function checkTruncationOptions(o: TruncationOptions, method: 'pairs' | 'kto'): void {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  positive('maxLength', o.maxLength);
  positive('maxPromptLength', o.maxPromptLength);
  const mode = o.truncationMode ?? 'keep_start';
  if (mode !== 'keep_start' && mode !== 'keep_end') throw new RangeError(`truncationMode must be 'keep_start' or 'keep_end', got ${JSON.stringify(mode)}`);
  if (method === 'kto' && mode === 'keep_end') throw new RangeError("KTO truncates keep_start only (TRL's KTOTrainer keeps the start of every row)");
  if (o.maxPromptLength !== undefined) {
    if (o.maxLength === undefined) throw new RangeError('maxPromptLength needs maxLength (the prompt is cut only when prompt + completion is longer than maxLength)');
    if (o.maxPromptLength >= o.maxLength) throw new RangeError(`maxPromptLength (${o.maxPromptLength}) must be smaller than maxLength (${o.maxLength})`);
  }
}

/** The maxPromptLength rule (see the module comment). Returns the inputs themselves when nothing is cut. */
export function limitPrompt(prompt: number[], completions: number[][], o: TruncationOptions): { prompt: number[]; completions: number[][]; cut: boolean } {
  const { maxLength, maxPromptLength } = o;
  if (maxLength === undefined || maxPromptLength === undefined) return { prompt, completions, cut: false };
  const longer = Math.max(...completions.map((c) => c.length));
  if (prompt.length + longer <= maxLength) return { prompt, completions, cut: false };
  if (prompt.length > maxPromptLength) prompt = (o.truncationMode ?? 'keep_start') === 'keep_start' ? prompt.slice(0, maxPromptLength) : prompt.slice(prompt.length - maxPromptLength);
  if (prompt.length + longer > maxLength) completions = completions.map((c) => c.slice(0, maxLength - maxPromptLength));
  return { prompt, completions, cut: true };
}

/** One model row: prompt + completion, labels on the completion only, cut to maxLength. */
export function completionRow(prompt: readonly number[], completion: readonly number[], maxLength: number | undefined, mode: TruncationMode = 'keep_start'): TokenizedExample {
  let inputIds = [...prompt, ...completion];
  let labels = [...new Array<number>(prompt.length).fill(IGNORE_INDEX), ...completion];
  if (maxLength !== undefined && inputIds.length > maxLength) {
    const start = mode === 'keep_start' ? 0 : inputIds.length - maxLength;
    inputIds = inputIds.slice(start, start + maxLength);
    labels = labels.slice(start, start + maxLength);
  }
  return { inputIds, labels };
}
