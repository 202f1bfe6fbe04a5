// The row formats SFT datasets come in, recognised per row by their keys (or forced), and checked
// field by field so an error names the field at fault ("messages[2].content").
//
//   messages           {"messages": [{"role", "content"}, ...]}          TRL / OpenAI / mlx-lm "chat"
//   sharegpt           {"conversations": [{"from", "value"}, ...]}      ShareGPT (from: human/gpt/system)
//   prompt-completion  {"prompt", "completion"}                          TRL / mlx-lm "completions";
//                      prompt (and completion) may be message lists     TRL "conversational prompt-completion"
//   alpaca             {"instruction", "input"?, "output"}               Stanford Alpaca
//   text               {"text"}                                          language modelling
//
// Detection looks for the keys in that order, so a row carrying several (alpaca rows often also
// have a pre-rendered "text") is read as the most structured one. A row is claimed by a format as
// soon as one of its keys is present; a missing partner key is then reported as missing.
import type { ChatMessage } from '../tokenizers/tokenizer.ts';

export type SftFormat = 'messages' | 'sharegpt' | 'prompt-completion' | 'alpaca' | 'text';

export const SFT_FORMATS: readonly SftFormat[] = ['messages', 'sharegpt', 'prompt-completion', 'alpaca', 'text'];

const FORMAT_KEYS: Record<SftFormat, readonly string[]> = {
  messages: ['messages'],
  sharegpt: ['conversations'],
  'prompt-completion': ['prompt', 'completion'],
  alpaca: ['instruction', 'output'],
  text: ['text'],
};

/** What a format looks like, for "matches no known format" messages. */
export const FORMAT_SHAPES: Record<SftFormat, string> = {
  messages: '{"messages": [{"role", "content"}]}',
  sharegpt: '{"conversations": [{"from", "value"}]}',
  'prompt-completion': '{"prompt", "completion"}',
  alpaca: '{"instruction", "input", "output"}',
  text: '{"text"}',
};

export const DEFAULT_ROLES: readonly string[] = ['system', 'user', 'assistant', 'tool'];

/** ShareGPT speaker names -> chat roles (TRL's maybe_convert_to_chatml, plus the chat names as-is). */
export const SHAREGPT_ROLES: Readonly<Record<string, string>> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  system: 'system',
};

export type SftRow =
  | { format: 'messages' | 'sharegpt'; messages: ChatMessage[]; tools?: unknown[] }
  | { format: 'prompt-completion'; prompt: string; completion: string }
  | { format: 'prompt-completion'; prompt: ChatMessage[]; completion: ChatMessage[]; tools?: unknown[] }
  | { format: 'alpaca'; instruction: string; input: string; output: string }
  | { format: 'text'; text: string };

/** A problem with one field of a row (the caller adds file and line). */
export class RowError extends Error {
  constructor(readonly field: string | undefined, message: string) {
    super(message);
    this.name = 'RowError';
  }
}

export function detectFormat(row: Record<string, unknown>): SftFormat | null {
  for (const format of SFT_FORMATS) if (FORMAT_KEYS[format].some((k) => k in row)) return format;
  return null;
}

export interface ValidateOptions {
  /** Treat every row as this format instead of detecting it. */
  format?: SftFormat;
  /** Accepted message roles. Default system, user, assistant, tool. */
  roles?: readonly string[];
}

/** "a string", "an array", "null", ... for error messages. */
export function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

export function requireString(row: Record<string, unknown>, key: string, path = key): string {
  if (!(key in row) || row[key] === undefined) throw new RowError(path, 'missing field');
  const v = row[key];
  if (typeof v !== 'string') throw new RowError(path, `must be a string, got ${typeName(v)}`);
  return v;
}

function requireNonEmpty(s: string, field: string, what: string): void {
  if (s.trim() === '') throw new RowError(field, `empty ${what}`);
}

/** tools: a list of function schemas, or that list as a JSON string (as TRL accepts). */
export function readTools(row: Record<string, unknown>): unknown[] | undefined {
  let tools = row.tools;
  if (tools === undefined || tools === null) return undefined;
  if (typeof tools === 'string') {
    try {
      tools = JSON.parse(tools);
    } catch (e) {
      throw new RowError('tools', `is a string but not valid JSON (${(e as Error).message})`);
    }
  }
  if (!Array.isArray(tools)) throw new RowError('tools', `must be a list of tool schemas, got ${typeName(tools)}`);
  return tools;
}

/** A validated message list at `path` (RowError naming the message and field otherwise). */
export function readMessages(value: unknown, path: string, roles: readonly string[], shareGpt: boolean): ChatMessage[] {
  if (value === undefined) throw new RowError(path, 'missing field');
  if (!Array.isArray(value)) throw new RowError(path, `must be a list of messages, got ${typeName(value)}`);
  if (value.length === 0) throw new RowError(path, 'must not be empty');
  const [roleKey, contentKey] = shareGpt ? ['from', 'value'] : ['role', 'content'];
  return value.map((m: unknown, i): ChatMessage => {
    const at = `${path}[${i}]`;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new RowError(at, `must be an object with "${roleKey}" and "${contentKey}", got ${typeName(m)}`);
    const msg = m as Record<string, unknown>;
    const speaker = requireString(msg, roleKey, `${at}.${roleKey}`);
    const content = msg[contentKey];
    if (content === undefined) throw new RowError(`${at}.${contentKey}`, 'missing field');
    if (typeof content !== 'string') {
      const hint = Array.isArray(content) ? ' (multimodal content lists are not supported)' : '';
      throw new RowError(`${at}.${contentKey}`, `must be a string, got ${typeName(content)}${hint}`);
    }
    let role: string;
    if (shareGpt) {
      const mapped = SHAREGPT_ROLES[speaker];
      if (mapped === undefined) throw new RowError(`${at}.from`, `unknown role ${JSON.stringify(speaker)} (expected ${Object.keys(SHAREGPT_ROLES).join(', ')})`);
      role = mapped;
    } else {
      if (!roles.includes(speaker)) throw new RowError(`${at}.role`, `unknown role ${JSON.stringify(speaker)} (expected ${roles.join(', ')})`);
      role = speaker;
    }
    if (role === 'assistant') requireNonEmpty(content, `${at}.${contentKey}`, 'assistant message');
    // Extra keys (name, tool_calls, ...) go through to the chat template.
    const out: ChatMessage = shareGpt ? { role, content } : { ...msg, role, content };
    return out;
  });
}

/** Checks one parsed row and puts it in the shape the tokenizer stage wants. Throws RowError. */
export function validateRow(value: unknown, options: ValidateOptions = {}): SftRow {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new RowError(undefined, `row must be a JSON object, got ${typeName(value)}`);
  }
  const row = value as Record<string, unknown>;
  const format = options.format ?? detectFormat(row);
  if (format === null) {
    const keys = Object.keys(row);
    const shapes = SFT_FORMATS.map((f) => `${f} ${FORMAT_SHAPES[f]}`).join('; ');
    throw new RowError(undefined, `row matches no known format (it has ${keys.length ? keys.map((k) => JSON.stringify(k)).join(', ') : 'no keys'}; expected one of: ${shapes})`);
  }
  const roles = options.roles ?? DEFAULT_ROLES;
  switch (format) {
    case 'messages':
    case 'sharegpt': {
      const key = format === 'messages' ? 'messages' : 'conversations';
      const messages = readMessages(row[key], key, roles, format === 'sharegpt');
      const tools = readTools(row);
      return tools ? { format, messages, tools } : { format, messages };
    }
    case 'prompt-completion': {
      if (row.prompt === undefined) throw new RowError('prompt', 'missing field');
      if (row.completion === undefined) throw new RowError('completion', 'missing field');
      if (Array.isArray(row.prompt)) {
        // TRL's conversational prompt-completion: both are message lists; a plain-string completion
        // is taken as one assistant message.
        const prompt = readMessages(row.prompt, 'prompt', roles, false);
        const completion =
          typeof row.completion === 'string'
            ? [{ role: 'assistant', content: row.completion }]
            : readMessages(row.completion, 'completion', roles, false);
        if (completion.every((m) => m.content.trim() === '')) throw new RowError('completion', 'empty completion');
        const tools = readTools(row);
        return tools ? { format, prompt, completion, tools } : { format, prompt, completion };
      }
      const prompt = requireString(row, 'prompt');
      if (Array.isArray(row.completion)) throw new RowError('completion', 'must be a string when prompt is a string (a message list needs a message-list prompt)');
      const completion = requireString(row, 'completion');
      requireNonEmpty(completion, 'completion', 'completion');
      return { format, prompt, completion };
    }
    case 'alpaca': {
      const instruction = requireString(row, 'instruction');
      requireNonEmpty(instruction, 'instruction', 'instruction');
      // input is optional (many Alpaca-style files leave it out when there is none).
      const input = row.input === undefined || row.input === null ? '' : requireString(row, 'input');
      const output = requireString(row, 'output');
      requireNonEmpty(output, 'output', 'output (the completion)');
      return { format, instruction, input, output };
    }
    case 'text': {
      const text = requireString(row, 'text');
      requireNonEmpty(text, 'text', 'text');
      return { format, text };
    }
  }
}
