// Rows -> preference examples (pairs) or KTO examples: validate each row, tokenize it, apply the
// length limits, and count everything skipped or changed. Invalid rows throw a DataError naming
// file, line and field, or with skipInvalid are skipped and counted, as for SFT data.
import type { Tokenizer } from '../../tokenizers/tokenizer.ts';
import { CHATML_TEMPLATE, resolveChatTemplate, withChatTemplate } from '../chat-templates.ts';
import { DataError } from '../errors.ts';
import { RowError } from '../formats.ts';
import { countLossTokens } from '../labels.ts';
import { formatLocation, type RawRecord, type RecordLocation } from '../records.ts';
import type { DatasetCounts } from '../summary.ts';
import { preferenceRows, type KtoExample, type PreferenceExample } from './collate.ts';
import {
  PREFERENCE_FORMATS,
  validatePreferenceRow,
  validateUnpairedRow,
  type PreferenceFormat,
  type PreferenceValidateOptions,
} from './formats.ts';
import { tokenizeChatCompletions, tokenizeTextCompletions, type PreferenceTokenizeOptions, type TokenizedCompletions } from './tokenize.ts';
import { checkTruncationOptions, completionRow, limitPrompt, type TruncationOptions } from './truncate.ts';
import { fileField, renameColumns } from '../columns.ts';

/** The fields the formats read, which `columns` can map from other column names. */
export type PreferenceField = 'prompt' | 'chosen' | 'rejected' | 'completion' | 'label' | 'input' | 'preferred_output' | 'non_preferred_output' | 'tools';

export interface PreferenceDatasetOptions extends PreferenceValidateOptions, PreferenceTokenizeOptions, TruncationOptions {
  /** Read a field from another column, e.g. { prompt: 'question', chosen: 'response_j', rejected: 'response_k' }. */
  columns?: Partial<Record<PreferenceField, string>>;
  /** Chat template for conversational rows: 'chatml' or Jinja source; required when the tokenizer has none. */
  chatTemplate?: string;
  /** Skip invalid rows and count them instead of throwing at the first. Default false. */
  skipInvalid?: boolean;
  /** How many skipped rows' errors to keep in stats.errors. Default 10. */
  maxReportedErrors?: number;
}

/** DatasetCounts (../summary.ts) for preference rows: examples are pairs (for KTO, examples after
 *  unpairing); truncated = a row longer than maxLength (cut when batched) or a prompt cut by
 *  maxPromptLength; droppedTooLong = the prompt alone fills maxLength (keep_start; TRL drops them too). */
export interface PreferenceDatasetStats extends DatasetCounts {
  formats: Record<PreferenceFormat, number>;
}

export interface KtoDatasetStats extends PreferenceDatasetStats {
  desirable: number;
  undesirable: number;
}

export interface PreferenceDataset {
  examples: PreferenceExample[];
  stats: PreferenceDatasetStats;
}

export interface KtoDataset {
  examples: KtoExample[];
  stats: KtoDatasetStats;
}

function emptyStats(rows: number): PreferenceDatasetStats {
  return {
    rows,
    examples: 0,
    invalid: 0,
    errors: [],
    truncated: 0,
    droppedTooLong: 0,
    droppedNoLoss: 0,
    boundaryMismatches: 0,
    formats: Object.fromEntries(PREFERENCE_FORMATS.map((f) => [f, 0])) as Record<PreferenceFormat, number>,
    tokens: 0,
    lossTokens: 0,
  };
}

interface Setup {
  tokenizer: Tokenizer;
  tokenizeOptions: PreferenceTokenizeOptions;
  maxReported: number;
}

function setup(tokenizer: Tokenizer, options: PreferenceDatasetOptions, method: 'pairs' | 'kto'): Setup {
  checkTruncationOptions(options, method);
  const template = options.chatTemplate === undefined ? null : resolveChatTemplate(options.chatTemplate);
  return {
    tokenizer: template === null ? tokenizer : withChatTemplate(tokenizer, template),
    tokenizeOptions: { addBos: options.addBos, addEos: options.addEos, appendEosToChat: options.appendEosToChat ?? template === CHATML_TEMPLATE },
    maxReported: options.maxReportedErrors ?? 10,
  };
}

/**
 * Runs `body` on one record with errors put right: a RowError becomes a DataError at the record's
 * location (field names as in the file); with skipInvalid a DataError is counted and null returned.
 */
function guarded<T>(record: RawRecord, options: PreferenceDatasetOptions, stats: PreferenceDatasetStats, maxReported: number, body: (value: unknown, at: RecordLocation) => T): T | null {
  const at: RecordLocation = { source: record.source, row: record.row, line: record.line, cite: record.cite };
  try {
    if (record.parseError !== undefined) throw new DataError(at, record.parseError);
    try {
      return body(options.columns ? renameColumns(record.value, options.columns) : record.value, at);
    } catch (e) {
      if (e instanceof RowError) throw new DataError(at, e.message, fileField(e.field, options.columns));
      throw e;
    }
  } catch (e) {
    if (!(e instanceof DataError) || !options.skipInvalid) throw e;
    stats.invalid++;
    if (stats.errors.length < maxReported) stats.errors.push(e);
    return null;
  }
}

function tokenizeAny(
  text: { conversational: boolean; prompt: unknown; tools?: unknown[] },
  completions: unknown[],
  s: Setup,
  source: Tokenizer,
  at: RecordLocation,
): TokenizedCompletions {
  if (!text.conversational) return tokenizeTextCompletions(text.prompt as string, completions as string[], s.tokenizer, s.tokenizeOptions);
  if (s.tokenizer.chatTemplate === null) {
    // A configuration problem, not a bad row: never skipped.
    throw new Error(`${source.source} has no chat template, needed for the conversation at ${formatLocation(at)}; pass chatTemplate: 'chatml' (a documented ChatML fallback) or your own Jinja template`);
  }
  return tokenizeChatCompletions(text.prompt as never, completions as never, text.tools, s.tokenizer, s.tokenizeOptions);
}

export function buildPreferenceDataset(records: readonly RawRecord[], tokenizer: Tokenizer, options: PreferenceDatasetOptions = {}): PreferenceDataset {
  const s = setup(tokenizer, options, 'pairs');
  const stats = emptyStats(records.length);
  const examples: PreferenceExample[] = [];
  const mode = options.truncationMode ?? 'keep_start';
  for (const record of records) {
    const done = guarded(record, options, stats, s.maxReported, (value, at) => {
      const row = validatePreferenceRow(value, options);
      return { at, row, tok: tokenizeAny(row, [row.chosen, row.rejected], s, tokenizer, at) };
    });
    if (done === null) continue;
    const { at, row, tok } = done;
    const limited = limitPrompt(tok.prompt, tok.completions, options);
    const ex: PreferenceExample = { ...at, format: row.format, prompt: limited.prompt, chosen: limited.completions[0], rejected: limited.completions[1] };
    if (options.maxLength !== undefined) {
      ex.maxLength = options.maxLength;
      ex.truncationMode = mode;
      if (mode === 'keep_start' && ex.prompt.length >= options.maxLength) {
        stats.droppedTooLong++;
        continue;
      }
    }
    const rows = preferenceRows(ex);
    const loss = [countLossTokens(rows.chosen.labels), countLossTokens(rows.rejected.labels)];
    if (loss[0] === 0 || loss[1] === 0) {
      stats.droppedNoLoss++;
      continue;
    }
    if (tok.boundaryMismatch) stats.boundaryMismatches++;
    const longest = ex.prompt.length + Math.max(ex.chosen.length, ex.rejected.length);
    if (limited.cut || (options.maxLength !== undefined && longest > options.maxLength)) stats.truncated++;
    examples.push(ex);
    stats.examples++;
    stats.formats[row.format]++;
    stats.tokens += rows.chosen.inputIds.length + rows.rejected.inputIds.length;
    stats.lossTokens += loss[0] + loss[1];
  }
  return { examples, stats };
}

export function buildKtoDataset(records: readonly RawRecord[], tokenizer: Tokenizer, options: PreferenceDatasetOptions = {}): KtoDataset {
  const s = setup(tokenizer, options, 'kto');
  const stats: KtoDatasetStats = { ...emptyStats(records.length), desirable: 0, undesirable: 0 };
  const examples: KtoExample[] = [];
  for (const record of records) {
    const done = guarded(record, options, stats, s.maxReported, (value, at) => {
      const rows = validateUnpairedRow(value, options);
      return rows.map((row) => ({ at, row, tok: tokenizeAny(row, [row.completion], s, tokenizer, at) }));
    });
    if (done === null) continue;
    for (const { at, row, tok } of done) {
      const limited = limitPrompt(tok.prompt, tok.completions, options);
      const ex: KtoExample = { ...at, format: row.format, prompt: limited.prompt, completion: limited.completions[0], label: row.label };
      if (options.maxLength !== undefined) {
        ex.maxLength = options.maxLength;
        // TRL's KTOTrainer drops these whatever the mode (it only keeps starts).
        if (ex.prompt.length >= options.maxLength) {
          stats.droppedTooLong++;
          continue;
        }
      }
      const r = completionRow(ex.prompt, ex.completion, ex.maxLength, 'keep_start');
      const loss = countLossTokens(r.labels);
      if (loss === 0) {
        stats.droppedNoLoss++;
        continue;
      }
      if (tok.boundaryMismatch) stats.boundaryMismatches++;
      if (limited.cut || (options.maxLength !== undefined && ex.prompt.length + ex.completion.length > options.maxLength)) stats.truncated++;
      examples.push(ex);
      stats.examples++;
      stats.formats[row.format]++;
      stats[row.label ? 'desirable' : 'undesirable']++;
      stats.tokens += r.inputIds.length;
      stats.lossTokens += loss;
    }
  }
  return { examples, stats };
}
