// Rows -> training examples: validate each row, tokenize it, truncate it, and keep count of
// everything that was skipped or changed, so a user sees what happened to their file.
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import type { AlpacaTemplate } from './alpaca.ts';
import { resolveChatTemplate, withChatTemplate, CHATML_TEMPLATE } from './chat-templates.ts';
import { DataError } from './errors.ts';
import { RowError, SFT_FORMATS, validateRow, type SftFormat, type SftRow } from './formats.ts';
import { countLossTokens, type TokenizedExample } from './labels.ts';
import { formatLocation, type RawRecord, type RecordLocation } from './records.ts';
import { tokenizeRow } from './tokenize.ts';
import type { DatasetCounts } from './summary.ts';
import { fileField, renameColumns } from './columns.ts';

/** The fields the formats read, which `columns` can map from other column names. */
export type SftField = 'messages' | 'conversations' | 'prompt' | 'completion' | 'instruction' | 'input' | 'output' | 'text' | 'tools';

export interface SftDatasetOptions {
  /** Treat every row as this format instead of detecting it per row. */
  format?: SftFormat;
  /**
   * Read a format's field from another column, e.g. { prompt: 'question', completion: 'answer' }
   * for GSM8K (mlx-lm's prompt_feature / completion_feature, TRL's dataset_text_field).
   */
  columns?: Partial<Record<SftField, string>>;
  /** Loss on completions / assistant turns only (default true), or on every token. */
  completionOnly?: boolean;
  /** Assistant turns trained in a conversation: 'all' (TRL, default) or 'last' (mlx-lm). */
  assistantTurns?: 'all' | 'last';
  /**
   * Chat template for conversation rows: 'chatml' (CHATML_TEMPLATE) or Jinja source. Overrides the
   * tokenizer's own; required when the tokenizer has none and the data has conversations.
   */
  chatTemplate?: string;
  /** Prepend BOS to plain-text rows. Default: the tokenizer's default. */
  addBos?: boolean;
  /** Append EOS after plain-text rows' completions (default true, as TRL). */
  addEos?: boolean;
  /** Append EOS after a conversation's final assistant turn. Default: true with the built-in ChatML
   *  fallback (its <|im_end|> is not a token generation stops on), false with any other template. */
  appendEosToChat?: boolean;
  /** Alpaca prompt wording (default ALPACA_TEMPLATE). */
  alpacaTemplate?: AlpacaTemplate;
  /** Accepted message roles (default system, user, assistant, tool). */
  roles?: readonly string[];
  /** Longest example in tokens; longer ones are handled by `truncation`. */
  maxLength?: number;
  /** What to do with a too-long example: keep its start (default, as TRL), keep its end, or drop it. */
  truncation?: 'keep_start' | 'keep_end' | 'drop';
  /** Skip invalid rows and count them instead of throwing at the first. Default false. */
  skipInvalid?: boolean;
  /** How many skipped rows' errors to keep in stats.errors. Default 10. */
  maxReportedErrors?: number;
}

export interface SftExample extends TokenizedExample, RecordLocation {
  format: SftFormat;
}

/** DatasetCounts (summary.ts) for SFT rows: truncated = cut to maxLength; droppedTooLong = longer than
 *  maxLength with truncation 'drop'; boundaryMismatches = a prompt/completion boundary inside a token. */
export interface SftDatasetStats extends DatasetCounts {
  formats: Record<SftFormat, number>;
}

export interface SftDataset {
  examples: SftExample[];
  stats: SftDatasetStats;
}

const CONVERSATIONAL = (row: SftRow): boolean => row.format === 'messages' || row.format === 'sharegpt' || (row.format === 'prompt-completion' && typeof row.prompt !== 'string');

function truncate(ex: TokenizedExample, maxLength: number, mode: 'keep_start' | 'keep_end'): TokenizedExample {
  const cut = <T>(a: T[]): T[] => (mode === 'keep_start' ? a.slice(0, maxLength) : a.slice(a.length - maxLength));
  return { inputIds: cut(ex.inputIds), labels: cut(ex.labels) };
}

export function buildSftDataset(records: readonly RawRecord[], tokenizer: Tokenizer, options: SftDatasetOptions = {}): SftDataset {
  const completionOnly = options.completionOnly ?? true;
  const maxReported = options.maxReportedErrors ?? 10;
  const truncation = options.truncation ?? 'keep_start';
  if (options.maxLength !== undefined && !(Number.isInteger(options.maxLength) && options.maxLength > 0)) {
    throw new RangeError(`maxLength must be a positive integer, got ${options.maxLength}`);
  }
  const template = options.chatTemplate === undefined ? null : resolveChatTemplate(options.chatTemplate);
  const chatTokenizer = template === null ? tokenizer : withChatTemplate(tokenizer, template);
  const tokenizeOptions = {
    completionOnly,
    assistantTurns: options.assistantTurns,
    addBos: options.addBos,
    addEos: options.addEos,
    appendEosToChat: options.appendEosToChat ?? template === CHATML_TEMPLATE,
    alpacaTemplate: options.alpacaTemplate,
    keepTokens: truncation === 'keep_start' ? options.maxLength : undefined,
  };

  const stats: SftDatasetStats = {
    rows: records.length,
    examples: 0,
    invalid: 0,
    errors: [],
    truncated: 0,
    droppedTooLong: 0,
    droppedNoLoss: 0,
    boundaryMismatches: 0,
    formats: Object.fromEntries(SFT_FORMATS.map((f) => [f, 0])) as Record<SftFormat, number>,
    tokens: 0,
    lossTokens: 0,
  };
  const examples: SftExample[] = [];

  for (const record of records) {
    const at: RecordLocation = { source: record.source, row: record.row, line: record.line, cite: record.cite };
    let row: SftRow;
    let tokenized: TokenizedExample & { boundaryMismatch: boolean };
    try {
      if (record.parseError !== undefined) throw new DataError(at, record.parseError);
      try {
        const value = options.columns ? renameColumns(record.value, options.columns) : record.value;
        row = validateRow(value, { format: options.format, roles: options.roles });
        if (CONVERSATIONAL(row) && chatTokenizer.chatTemplate === null) {
          // A configuration problem, not a bad row: never skipped.
          throw new Error(
            `${tokenizer.source} has no chat template, needed for the conversation at ${formatLocation(at)}; ` +
              "pass chatTemplate: 'chatml' (a documented ChatML fallback) or your own Jinja template",
          );
        }
        tokenized = tokenizeRow(row, chatTokenizer, tokenizeOptions);
      } catch (e) {
        if (e instanceof RowError) throw new DataError(at, e.message, fileField(e.field, options.columns));
        throw e;
      }
    } catch (e) {
      if (!(e instanceof DataError) || !options.skipInvalid) throw e;
      stats.invalid++;
      if (stats.errors.length < maxReported) stats.errors.push(e);
      continue;
    }
    if (tokenized.boundaryMismatch) stats.boundaryMismatches++;

    let ex: TokenizedExample = tokenized;
    if (options.maxLength !== undefined && ex.inputIds.length > options.maxLength) {
      if (truncation === 'drop') {
        stats.droppedTooLong++;
        continue;
      }
      ex = truncate(ex, options.maxLength, truncation);
      stats.truncated++;
    }
    const loss = countLossTokens(ex.labels);
    if (loss === 0) {
      stats.droppedNoLoss++;
      continue;
    }
    examples.push({ ...at, format: row.format, inputIds: ex.inputIds, labels: ex.labels });
    stats.examples++;
    stats.formats[row.format]++;
    stats.tokens += ex.inputIds.length;
    stats.lossTokens += loss;
  }
  return { examples, stats };
}
