// A run's data read and checked by the local parsers without a tokenizer, before any backend runs it
// or uploads it: the same row validators (and so the same DataErrors naming file, line and field)
// and the same skip-and-count rule (--skip-invalid) as training. Returns the validated rows per split.
import { readSplitRecords } from '../data/load.ts';
import { DataError } from '../data/errors.ts';
import { RowError, validateRow, type SftRow } from '../data/formats.ts';
import { validatePreferenceRow, validateUnpairedRow, type PairedRow } from '../data/preference/formats.ts';
import { readPrompt } from '../data/prompts.ts';
import type { RawRecord, RecordLocation } from '../data/records.ts';
import type { RunConfig } from './protocol.ts';

export type CheckedRow =
  | { kind: 'sft'; row: SftRow; at: RecordLocation }
  | { kind: 'pair'; row: PairedRow; at: RecordLocation }
  | { kind: 'unpaired'; row: { format: string }; at: RecordLocation }
  | { kind: 'prompt'; row: { format: string }; at: RecordLocation };
type RowKind = CheckedRow['kind'];

export interface CheckedSplit { rows: CheckedRow[]; read: number; invalid: number; errors: DataError[]; formats: Record<string, number> }
export interface CheckedData { train: CheckedSplit; val: CheckedSplit | null; summary: string }

/**
 * Which row validator a method's data goes through: SFT rows, preference pairs (dpo, simpo, ...),
 * KTO's labelled completions, or GRPO/RLVR prompts (text or messages, or GSM8K's question).
 */
function rowKind(method: RunConfig['method']): RowKind | null {
  if (method === 'sft') return 'sft';
  if (method === 'kto') return 'unpaired';
  if (method === 'grpo' || method === 'rlvr') return 'prompt';
  if (method === 'dpo' || method === 'orpo' || method === 'cpo' || method === 'simpo') return 'pair';
  return null;
}

function validate(kind: RowKind, value: unknown, at: RecordLocation): CheckedRow {
  if (kind === 'sft') return { kind, row: validateRow(value), at };
  if (kind === 'pair') return { kind, row: validatePreferenceRow(value), at };
  if (kind === 'prompt') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RowError(undefined, `a row must be an object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
    const { prompt } = readPrompt(value as Record<string, unknown>);
    return { kind, row: { format: typeof prompt === 'string' ? 'prompt' : 'conversational prompt' }, at };
  }
  return { kind, row: validateUnpairedRow(value)[0], at };
}

function checkSplit(records: RawRecord[], kind: RowKind, skipInvalid: boolean): CheckedSplit {
  const out: CheckedSplit = { rows: [], read: records.length, invalid: 0, errors: [], formats: {} };
  for (const record of records) {
    const at: RecordLocation = { source: record.source, row: record.row, line: record.line, cite: record.cite };
    try {
      if (record.parseError !== undefined) throw new DataError(at, record.parseError);
      let checked: CheckedRow;
      try {
        checked = validate(kind, record.value, at);
      } catch (e) {
        if (e instanceof RowError) throw new DataError(at, e.message, e.field);
        throw e;
      }
      out.rows.push(checked);
      out.formats[checked.row.format] = (out.formats[checked.row.format] ?? 0) + 1;
    } catch (e) {
      if (!(e instanceof DataError) || !skipInvalid) throw e;
      out.invalid++;
      if (out.errors.length < 10) out.errors.push(e);
    }
  }
  return out;
}

const describe = (name: string, s: CheckedSplit) =>
  `${name}: ${s.rows.length} of ${s.read} rows valid` + (s.invalid ? ` (${s.invalid} skipped: ${s.errors[0].message}${s.invalid > 1 ? ', ...' : ''})` : '') +
  ` [${Object.entries(s.formats).map(([f, n]) => `${f} ${n}`).join(', ')}]`;

/** Reads and validates the run's data; null for methods whose data the local parsers do not cover here (reinforcement, ...). */
export async function checkRunData(config: RunConfig): Promise<CheckedData | null> {
  const kind = rowKind(config.method);
  if (kind === null) return null;
  const o = config.options;
  const split = await readSplitRecords(config.data, { valid: o.valid, valFraction: o.valFraction, seed: o.seed });
  const skip = !!o.skipInvalid;
  const train = checkSplit(split.train, kind, skip);
  const what = { sft: 'SFT', pair: 'preference', unpaired: 'KTO', prompt: 'prompt' }[kind];
  if (!train.rows.length) throw new DataError({ source: config.data }, `no valid ${what} rows (${train.read} read, ${train.invalid} invalid)`);
  const val = split.val ? checkSplit(split.val, kind, skip) : null;
  return { train, val, summary: [describe('train', train), ...(val ? [describe('valid', val)] : [])].join('; ') };
}
