// Preference row formats, recognised per row by their keys (or forced), checked field by field so
// an error names the field at fault ("chosen[1].content"), and put in one shape: a prompt and two
// completions (paired), or a prompt, a completion and a label (unpaired, KTO).
//
//   openai-dpo              {"input": {"messages": [...]}, "preferred_output": [...],
//                            "non_preferred_output": [...]}                    OpenAI DPO fine-tuning
//   prompt-chosen-rejected  {"prompt", "chosen", "rejected"}                  TRL / mlx-lm-lora; strings,
//                           or a message-list prompt and message-list completions (conversational)
//   chosen-rejected         {"chosen", "rejected"}: whole dialogues, the prompt implicit (hh-rlhf);
//                           strings or message lists, split by extractPrompt
//   prompt-completion-label {"prompt", "completion", "label": bool}           TRL unpaired (KTO)
//
// Detection looks for the keys in the order openai-dpo, prompt-completion-label (completion or
// label), prompt-chosen-rejected (prompt), chosen-rejected; a row is claimed by a format as soon as one of its
// keys is present, and a missing partner key is then reported as missing.
import type { ChatMessage } from '../../tokenizers/tokenizer.ts';
import { DEFAULT_ROLES, readMessages, readTools, requireString, RowError, typeName } from '../formats.ts';
import { extractPrompt } from './extract-prompt.ts';

export type PairedFormat = 'openai-dpo' | 'prompt-chosen-rejected' | 'chosen-rejected';
export type UnpairedFormat = 'prompt-completion-label';
export type PreferenceFormat = PairedFormat | UnpairedFormat;

export const PAIRED_FORMATS: readonly PairedFormat[] = ['openai-dpo', 'prompt-chosen-rejected', 'chosen-rejected'];
export const PREFERENCE_FORMATS: readonly PreferenceFormat[] = ['openai-dpo', 'prompt-completion-label', 'prompt-chosen-rejected', 'chosen-rejected'];

const FORMAT_KEYS: Record<PreferenceFormat, readonly string[]> = {
  'openai-dpo': ['preferred_output', 'non_preferred_output'],
  'prompt-chosen-rejected': ['prompt'],
  'chosen-rejected': ['chosen', 'rejected'],
  'prompt-completion-label': ['completion', 'label'],
};

export const PREFERENCE_FORMAT_SHAPES: Record<PreferenceFormat, string> = {
  'openai-dpo': '{"input": {"messages"}, "preferred_output", "non_preferred_output"}',
  'prompt-chosen-rejected': '{"prompt", "chosen", "rejected"}',
  'chosen-rejected': '{"chosen", "rejected"}',
  'prompt-completion-label': '{"prompt", "completion", "label"}',
};

/** A prompt and its completion(s), all plain text or all messages (rendered by the chat template). */
export type PreferenceText =
  | { conversational: false; prompt: string; chosen: string; rejected: string }
  | { conversational: true; prompt: ChatMessage[]; chosen: ChatMessage[]; rejected: ChatMessage[]; tools?: unknown[] };

export type UnpairedText =
  | { conversational: false; prompt: string; completion: string; label: boolean }
  | { conversational: true; prompt: ChatMessage[]; completion: ChatMessage[]; label: boolean; tools?: unknown[] };

export type PairedRow = PreferenceText & { format: PairedFormat };
export type UnpairedRow = UnpairedText & { format: UnpairedFormat };

export interface PreferenceValidateOptions {
  /** Treat every row as this format instead of detecting it. */
  format?: PreferenceFormat;
  /** Accepted message roles. Default system, user, assistant, tool. */
  roles?: readonly string[];
}

/** The format a row's keys say, among `formats` (in their order), or null. */
export function detectPreferenceFormat(row: Record<string, unknown>, formats: readonly PreferenceFormat[] = PREFERENCE_FORMATS): PreferenceFormat | null {
  for (const f of PREFERENCE_FORMATS) if (formats.includes(f) && FORMAT_KEYS[f].some((k) => k in row)) return f;
  return null;
}

function asObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RowError(undefined, `row must be a JSON object, got ${typeName(value)}`);
  return value as Record<string, unknown>;
}

function noFormat(row: Record<string, unknown>, formats: readonly PreferenceFormat[]): RowError {
  const keys = Object.keys(row);
  const shapes = formats.map((f) => `${f} ${PREFERENCE_FORMAT_SHAPES[f]}`).join('; ');
  return new RowError(undefined, `row matches no preference format (it has ${keys.length ? keys.map((k) => JSON.stringify(k)).join(', ') : 'no keys'}; expected one of: ${shapes})`);
}

function requirePresent(row: Record<string, unknown>, key: string, path = key): unknown {
  if (!(key in row) || row[key] === undefined || row[key] === null) throw new RowError(path, 'missing field');
  return row[key];
}

function nonEmptyText(row: Record<string, unknown>, key: string): string {
  const s = requireString(row, key);
  if (s.trim() === '') throw new RowError(key, `empty ${key}`);
  return s;
}

/** A completion given with a message-list prompt: a message list, or a string taken as one assistant message. */
function chatCompletion(row: Record<string, unknown>, key: string, roles: readonly string[]): ChatMessage[] {
  const v = requirePresent(row, key);
  if (typeof v === 'string') {
    if (v.trim() === '') throw new RowError(key, `empty ${key}`);
    return [{ role: 'assistant', content: v }];
  }
  return readMessages(v, key, roles, false);
}

/** Explicit prompt: strings, or a message-list prompt with message-list (or string) completions. */
function explicitPrompt(row: Record<string, unknown>, keys: readonly string[], roles: readonly string[]): { conversational: boolean; prompt: string | ChatMessage[]; parts: (string | ChatMessage[])[]; tools?: unknown[] } {
  const prompt = requirePresent(row, 'prompt');
  for (const k of keys) requirePresent(row, k);
  if (Array.isArray(prompt)) {
    const messages = readMessages(prompt, 'prompt', roles, false);
    const tools = readTools(row);
    return { conversational: true, prompt: messages, parts: keys.map((k) => chatCompletion(row, k, roles)), ...(tools ? { tools } : {}) };
  }
  const text = requireString(row, 'prompt');
  for (const k of keys) if (Array.isArray(row[k])) throw new RowError(k, 'must be a string when prompt is a string (message lists need a message-list prompt)');
  return { conversational: false, prompt: text, parts: keys.map((k) => nonEmptyText(row, k)) };
}

/** Implicit prompt (hh-rlhf): two whole dialogues, split at their common prefix as TRL's extract_prompt. */
function implicitPrompt(row: Record<string, unknown>, roles: readonly string[]): PreferenceText {
  const chosen = requirePresent(row, 'chosen');
  const rejected = requirePresent(row, 'rejected');
  if (Array.isArray(chosen) !== Array.isArray(rejected)) {
    throw new RowError('rejected', `must be ${Array.isArray(chosen) ? 'a message list like chosen' : 'a string like chosen'}, got ${typeName(rejected)}`);
  }
  if (Array.isArray(chosen)) {
    const c = readMessages(chosen, 'chosen', roles, false);
    const r = readMessages(rejected, 'rejected', roles, false);
    const split = extractPrompt(c, r, (a, b) => JSON.stringify(a) === JSON.stringify(b));
    const tools = readTools(row);
    return { conversational: true, prompt: split.prompt, chosen: split.chosen, rejected: split.rejected, ...(tools ? { tools } : {}) };
  }
  const c = nonEmptyText(row, 'chosen');
  const r = nonEmptyText(row, 'rejected');
  const split = extractPrompt(c, r);
  return { conversational: false, prompt: split.prompt, chosen: split.chosen, rejected: split.rejected };
}

/** OpenAI's DPO format: input.messages is the prompt; each output a list of assistant messages. */
function openAi(row: Record<string, unknown>, roles: readonly string[]): PreferenceText {
  const input = requirePresent(row, 'input');
  if (typeof input !== 'object' || Array.isArray(input)) throw new RowError('input', `must be an object with "messages", got ${typeName(input)}`);
  const inputRow = input as Record<string, unknown>;
  const prompt = readMessages(requirePresent(inputRow, 'messages', 'input.messages'), 'input.messages', roles, false);
  const chosen = readMessages(requirePresent(row, 'preferred_output'), 'preferred_output', roles, false);
  const rejected = readMessages(requirePresent(row, 'non_preferred_output'), 'non_preferred_output', roles, false);
  let tools: unknown[] | undefined;
  try {
    tools = readTools(inputRow);
  } catch (e) {
    if (e instanceof RowError) throw new RowError(`input.${e.field}`, e.message);
    throw e;
  }
  return { conversational: true, prompt, chosen, rejected, ...(tools ? { tools } : {}) };
}

/** KTO labels: booleans; "true"/"false" where the file has no types (CSV). */
function readLabel(row: Record<string, unknown>): boolean {
  const v = requirePresent(row, 'label');
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  throw new RowError('label', `must be true (desirable) or false (undesirable), got ${typeof v === 'string' ? JSON.stringify(v) : typeName(v)}`);
}

function validatePaired(row: Record<string, unknown>, format: PairedFormat, roles: readonly string[]): PairedRow {
  switch (format) {
    case 'openai-dpo':
      return { format, ...openAi(row, roles) };
    case 'chosen-rejected':
      return { format, ...implicitPrompt(row, roles) };
    case 'prompt-chosen-rejected': {
      const e = explicitPrompt(row, ['chosen', 'rejected'], roles);
      if (e.conversational) {
        return { format, conversational: true, prompt: e.prompt as ChatMessage[], chosen: e.parts[0] as ChatMessage[], rejected: e.parts[1] as ChatMessage[], ...(e.tools ? { tools: e.tools } : {}) };
      }
      return { format, conversational: false, prompt: e.prompt as string, chosen: e.parts[0] as string, rejected: e.parts[1] as string };
    }
  }
}

/** Checks one parsed preference pair row and puts it in the shape tokenization wants. Throws RowError. */
export function validatePreferenceRow(value: unknown, options: PreferenceValidateOptions = {}): PairedRow {
  const row = asObject(value);
  const format = options.format ?? detectPreferenceFormat(row);
  if (format === null) throw noFormat(row, PAIRED_FORMATS);
  if (format === 'prompt-completion-label') {
    throw new RowError(undefined, 'an unpaired {"prompt", "completion", "label"} row is KTO data, not a preference pair (train it with KTO)');
  }
  return validatePaired(row, format, options.roles ?? DEFAULT_ROLES);
}

/**
 * Checks one row of KTO data: unpaired rows as they are, and paired rows (any paired format) split
 * into a desirable and an undesirable example, as TRL's KTOTrainer unpairs preference datasets.
 */
export function validateUnpairedRow(value: unknown, options: PreferenceValidateOptions = {}): UnpairedRow[] | (UnpairedText & { format: PairedFormat })[] {
  const row = asObject(value);
  const format = options.format ?? detectPreferenceFormat(row);
  if (format === null) throw noFormat(row, PREFERENCE_FORMATS);
  const roles = options.roles ?? DEFAULT_ROLES;
  if (format === 'prompt-completion-label') {
    const e = explicitPrompt(row, ['completion'], roles);
    const label = readLabel(row);
    if (e.conversational) return [{ format, conversational: true, prompt: e.prompt as ChatMessage[], completion: e.parts[0] as ChatMessage[], label, ...(e.tools ? { tools: e.tools } : {}) }];
    return [{ format, conversational: false, prompt: e.prompt as string, completion: e.parts[0] as string, label }];
  }
  const p = validatePaired(row, format, roles);
  // TRL's unpair_preference_dataset: (prompt, chosen, True) and (prompt, rejected, False).
  if (p.conversational) {
    const tools = p.tools ? { tools: p.tools } : {};
    return [
      { format, conversational: true, prompt: p.prompt, completion: p.chosen, label: true, ...tools },
      { format, conversational: true, prompt: p.prompt, completion: p.rejected, label: false, ...tools },
    ];
  }
  return [
    { format, conversational: false, prompt: p.prompt, completion: p.chosen, label: true },
    { format, conversational: false, prompt: p.prompt, completion: p.rejected, label: false },
  ];
}
