// Prompt datasets for GRPO/RLVR: rows that carry a prompt and whatever the reward functions need.
//   {"prompt": "text" | [messages], ...columns}        TRL's prompt-only format (conversational or not)
//   {"question", "answer"}                              GSM8K: the question is the prompt
//   {"prompt", "answer", "system"}                      mlx-lm-lora: a system message before the prompt
// Every other column goes to the reward functions (one value per completion). Text prompts are
// tokenized as TRL does (processing_class(text=prompts): BOS as the tokenizer adds it); messages
// through the chat template with the generation prompt (add_generation_prompt=True).
import type { ChatMessage, Tokenizer } from '../tokenizers/tokenizer.ts';
import { resolveChatTemplate, withChatTemplate } from './chat-templates.ts';
import { DataError } from './errors.ts';
import { DEFAULT_ROLES, readMessages, RowError, typeName } from './formats.ts';
import { readSplitRecords, type SplitSource } from './load.ts';
import { formatLocation, type RawRecord, type RecordLocation } from './records.ts';

export interface PromptExample {
  /** What the reward functions see as `prompts[i]`. */
  prompt: string | ChatMessage[];
  promptIds: number[];
  /** The row's other columns. */
  columns: Record<string, unknown>;
  /** "file:line", for messages. */
  location: string;
}

export interface PromptDatasetOptions {
  /** Jinja or a named template (chatml) for tokenizers without one. */
  chatTemplate?: string;
  /** Prompts longer than this many tokens keep their last maxPromptLength tokens (left truncation). */
  maxPromptLength?: number;
}

export function readPrompt(row: Record<string, unknown>): { prompt: string | ChatMessage[]; used: string[] } {
  if ('prompt' in row) {
    const p = row.prompt;
    if (typeof p === 'string') {
      if (typeof row.system === 'string') {
        return { prompt: [{ role: 'system', content: row.system }, { role: 'user', content: p }], used: ['prompt', 'system'] };
      }
      return { prompt: p, used: ['prompt'] };
    }
    if (Array.isArray(p)) return { prompt: readMessages(p, 'prompt', DEFAULT_ROLES, false), used: ['prompt'] };
    throw new RowError('prompt', `must be a string or a list of messages, got ${typeName(p)}`);
  }
  if ('question' in row) {
    if (typeof row.question !== 'string') throw new RowError('question', `must be a string, got ${typeName(row.question)}`);
    return { prompt: row.question, used: ['question'] };
  }
  throw new RowError(undefined, `no "prompt" field (expected {"prompt": text or messages, ...} or GSM8K's {"question", "answer"}); keys: ${Object.keys(row).join(', ') || 'none'}`);
}

export function buildPromptDataset(records: readonly RawRecord[], tokenizer: Tokenizer, o: PromptDatasetOptions = {}): PromptExample[] {
  if (o.maxPromptLength !== undefined && !(Number.isInteger(o.maxPromptLength) && o.maxPromptLength > 0)) {
    throw new RangeError(`maxPromptLength must be a positive integer, got ${o.maxPromptLength}`);
  }
  const tok = o.chatTemplate === undefined ? tokenizer : withChatTemplate(tokenizer, resolveChatTemplate(o.chatTemplate));
  const out: PromptExample[] = [];
  for (const r of records) {
    const at: RecordLocation = { source: r.source, row: r.row, line: r.line, cite: r.cite };
    if (r.parseError !== undefined) throw new DataError(at, r.parseError);
    if (r.value === null || typeof r.value !== 'object' || Array.isArray(r.value)) throw new DataError(at, `a row must be an object, got ${typeName(r.value)}`);
    const row = r.value as Record<string, unknown>;
    let prompt: string | ChatMessage[], used: string[];
    try {
      ({ prompt, used } = readPrompt(row));
    } catch (e) {
      if (e instanceof RowError) throw new DataError(at, e.message, e.field);
      throw e;
    }
    let ids: number[];
    if (typeof prompt === 'string') ids = tok.encode(prompt);
    else {
      if (tok.chatTemplate === null) {
        throw new Error(`${tokenizer.source} has no chat template, needed for the conversational prompt at ${formatLocation(at)}; pass --chat-template chatml or your own Jinja`);
      }
      ids = tok.encodeChat(prompt, { addGenerationPrompt: true });
    }
    if (!ids.length) throw new DataError(at, 'the prompt tokenizes to no tokens', used[0]);
    if (o.maxPromptLength !== undefined && ids.length > o.maxPromptLength) ids = ids.slice(ids.length - o.maxPromptLength);
    const columns: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) if (!used.includes(k)) columns[k] = v;
    out.push({ prompt, promptIds: ids, columns, location: formatLocation(at) });
  }
  if (!out.length) throw new Error('prompt dataset: no rows');
  return out;
}

export async function loadPromptSplits(train: string | string[], tokenizer: Tokenizer, o: PromptDatasetOptions & SplitSource = {}): Promise<{ train: PromptExample[]; val: PromptExample[] | null }> {
  const rows = await readSplitRecords(train, o);
  return { train: buildPromptDataset(rows.train, tokenizer, o), val: rows.val === null ? null : buildPromptDataset(rows.val, tokenizer, o) };
}
