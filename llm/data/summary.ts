// What happened to the data, in one place: rows read, kept, truncated, dropped (with the reason),
// skipped as invalid, tokens, and the train/validation split; plus warnings for data that trains to
// nothing (preference pairs whose chosen and rejected are the same). Printed before training and
// stored in run.json, so no row vanishes without a word.
import type { DataError } from './errors.ts';

/** The counts SFT and preference datasets both keep (SftDatasetStats, PreferenceDatasetStats). */
export interface DatasetCounts {
  /** Rows read (valid or not). */
  rows: number;
  /** Examples produced. */
  examples: number;
  /** Invalid rows skipped (skipInvalid). */
  invalid: number;
  /** The first maxReportedErrors errors of the skipped rows. */
  errors: DataError[];
  /** Examples cut by truncation. */
  truncated: number;
  /** Examples dropped for being too long. */
  droppedTooLong: number;
  /** Examples dropped because nothing was left to train on (a completion cut off by truncation). */
  droppedNoLoss: number;
  /** Examples whose prompt/completion boundary fell inside a token (see tokenize.ts). */
  boundaryMismatches: number;
  /** Examples per row format. */
  formats: Record<string, number>;
  /** Tokens in all examples, after truncation. */
  tokens: number;
  /** Tokens the loss sees. */
  lossTokens: number;
}

export interface SplitSummary {
  rows: number;
  kept: number;
  truncated: number;
  dropped: { too_long: number; no_loss_tokens_after_truncation: number };
  skipped_invalid: number;
  invalid_examples: string[];
  tokens: number;
  loss_tokens: number;
  boundary_mismatches: number;
}

export interface DataSummary {
  /** Row formats detected, with their example counts. */
  formats: Record<string, number>;
  max_length: number | null;
  train: SplitSummary;
  validation: SplitSummary | null;
  /** Where the validation rows came from. */
  validation_source: 'file' | 'fraction' | 'none';
  warnings: string[];
}

function split(s: DatasetCounts): SplitSummary {
  return {
    rows: s.rows, kept: s.examples, truncated: s.truncated,
    dropped: { too_long: s.droppedTooLong, no_loss_tokens_after_truncation: s.droppedNoLoss },
    skipped_invalid: s.invalid, invalid_examples: s.errors.slice(0, 3).map((e) => e.message),
    tokens: s.tokens, loss_tokens: s.lossTokens, boundary_mismatches: s.boundaryMismatches,
  };
}

export function summarizeData(o: {
  train: DatasetCounts; val: DatasetCounts | null; maxLength?: number; validationSource: DataSummary['validation_source'];
  /** Preference pairs whose chosen and rejected tokens are identical (they give no signal: loss ln 2). */
  identicalPairs?: number;
}): DataSummary {
  const formats: Record<string, number> = {};
  for (const s of [o.train, o.val]) for (const [k, n] of Object.entries(s?.formats ?? {})) if (n) formats[k] = (formats[k] ?? 0) + n;
  const warnings: string[] = [];
  const t = o.train;
  const lost = t.droppedTooLong + t.droppedNoLoss;
  if (lost > 0 && lost >= t.rows / 10) warnings.push(`${lost} of ${t.rows} training rows were dropped by truncation to ${o.maxLength ?? '-'} tokens; raise --max-length if the model allows`);
  if (o.identicalPairs) warnings.push(`${o.identicalPairs} pair(s) have identical chosen and rejected completions: they carry no preference (their loss stays at ln 2)`);
  if (t.examples > 0 && t.examples < 8) warnings.push(`only ${t.examples} training example(s)`);
  return { formats, max_length: o.maxLength ?? null, train: split(o.train), validation: o.val ? split(o.val) : null, validation_source: o.validationSource, warnings };
}

function splitLine(name: string, s: SplitSummary): string {
  const dropped = s.dropped.too_long + s.dropped.no_loss_tokens_after_truncation;
  const reasons = [
    s.dropped.too_long ? `${s.dropped.too_long} longer than the limit` : '',
    s.dropped.no_loss_tokens_after_truncation ? `${s.dropped.no_loss_tokens_after_truncation} with no completion tokens left after truncation` : '',
  ].filter(Boolean).join(', ');
  return `  ${name}: ${s.rows} rows read, ${s.kept} kept, ${s.truncated} truncated, ${dropped} dropped${reasons ? ` (${reasons})` : ''}, ` +
    `${s.skipped_invalid} skipped as invalid; ${s.tokens} tokens (${s.loss_tokens} trained on)`;
}

/** The summary as lines for the terminal. */
export function formatDataSummary(d: DataSummary): string[] {
  const lines = [`data: ${Object.entries(d.formats).map(([f, n]) => `${f} ${n}`).join(', ') || 'no examples'}; max length ${d.max_length ?? 'none'}`];
  lines.push(splitLine('train', d.train));
  if (d.validation) lines.push(splitLine(`validation (${d.validation_source === 'file' ? 'file' : 'held out'})`, d.validation));
  else lines.push('  validation: none (pass --valid FILE or --val-fraction F)');
  for (const e of d.train.invalid_examples) lines.push(`  skipped: ${e}`);
  for (const w of d.warnings) lines.push(`warning: ${w}`);
  return lines;
}
