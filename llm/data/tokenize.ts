// Validated rows -> { inputIds, labels }.
//
// Plain text (prompt-completion strings, Alpaca, text) follows TRL's SFTTrainer: the prompt and
// prompt+completion are tokenized separately (BOS as the tokenizer adds it by default), EOS is
// appended after the completion so the model learns to stop, and the prompt's tokens are masked.
//
// Conversations are rendered with the chat template, and the assistant turns are found by
// rendering prefixes, as mlx-lm's ChatDataset does for its last turn: the tokens of
// messages[:i] rendered with the generation prompt mark where assistant turn i starts, and the
// tokens of messages[:i+1] mark where it ends (its end-of-turn marker included, so the model learns
// to end turns). TRL gets the same spans from `{% generation %}` blocks (assistant_only_loss), which
// most templates lack; prefix rendering works with any template that renders a prefix of a
// conversation as a prefix of its text, and a template that does not is reported for that row.
//
// Where a prefix's tokens are not a prefix of the whole (a merge across the boundary), the boundary
// is the longest common prefix, so a token that holds completion text is trained on; such rows are
// counted (TRL only warns and keeps the prompt's token count).
import type { ChatMessage, Tokenizer } from '../tokenizers/tokenizer.ts';
import { alpacaPrompt, type AlpacaTemplate } from './alpaca.ts';
import { RowError, type SftRow } from './formats.ts';
import { commonPrefixLength, IGNORE_INDEX, type TokenizedExample } from './labels.ts';

export interface TokenizeOptions {
  /** Loss on completions / assistant turns only (true, the default) or on every token. */
  completionOnly?: boolean;
  /** Which assistant turns of a conversation are trained: all (TRL) or only the last (mlx-lm). */
  assistantTurns?: 'all' | 'last';
  /** Prepend BOS to plain-text rows. Default: what the tokenizer does by default. */
  addBos?: boolean;
  /** Append EOS to plain-text rows (TRL does). Default true. */
  addEos?: boolean;
  /** Append EOS after a conversation ending in an assistant turn. Default false (the template decides). */
  appendEosToChat?: boolean;
  /** Alpaca prompt wording. Default ALPACA_TEMPLATE. */
  alpacaTemplate?: AlpacaTemplate;
  /**
   * Only the first `keepTokens` tokens will be kept (keep_start truncation): plain text is then
   * tokenized from a prefix long enough to hold them, so a huge row costs what its kept part costs.
   */
  keepTokens?: number;
}

/** Extra tokens tokenized past the kept ones, so merges at the prefix's cut never reach them. */
const PREFIX_MARGIN = 64;

/**
 * The first tokens of `text`: the tokens of a character prefix that yields at least keepTokens +
 * PREFIX_MARGIN of them (doubling the prefix until it does), else of the whole text. Tokenizers
 * merge locally (pre-tokenized words, BPE pairs), so tokens far from the cut match the whole text's.
 */
export function encodePrefix(tokenizer: Tokenizer, text: string, options: { addBos?: boolean }, keepTokens: number | undefined): number[] {
  if (keepTokens === undefined) return tokenizer.encode(text, options);
  const want = keepTokens + PREFIX_MARGIN;
  for (let chars = want * 8; chars < text.length; chars *= 2) {
    const ids = tokenizer.encode(text.slice(0, chars), options);
    if (ids.length >= want) return ids.slice(0, want);
  }
  return tokenizer.encode(text, options);
}

export interface TokenizeResult extends TokenizedExample {
  /** The prompt/completion boundary was not on a token boundary (see the module comment). */
  boundaryMismatch: boolean;
}

/** Tokenizes one row. `tokenizer` must carry the chat template for conversation rows. */
export function tokenizeRow(row: SftRow, tokenizer: Tokenizer, options: TokenizeOptions = {}): TokenizeResult {
  const completionOnly = options.completionOnly ?? true;
  switch (row.format) {
    case 'text': {
      const inputIds = withEos(encodePrefix(tokenizer, row.text, { addBos: options.addBos }, options.keepTokens), tokenizer, options);
      return { inputIds, labels: [...inputIds], boundaryMismatch: false };
    }
    case 'alpaca':
      return tokenizePromptCompletion(alpacaPrompt(row.instruction, row.input, options.alpacaTemplate), row.output, tokenizer, options, completionOnly);
    case 'prompt-completion':
      if (typeof row.prompt === 'string') return tokenizePromptCompletion(row.prompt, row.completion as string, tokenizer, options, completionOnly);
      return tokenizeChatPromptCompletion(row.prompt, row.completion as ChatMessage[], 'tools' in row ? row.tools : undefined, tokenizer, options, completionOnly);
    case 'messages':
    case 'sharegpt':
      return tokenizeConversation(row.messages, row.tools, tokenizer, options, completionOnly);
  }
}

function withEos(ids: number[], tokenizer: Tokenizer, options: TokenizeOptions): number[] {
  if (!(options.addEos ?? true)) return ids;
  if (tokenizer.eosId === null) throw new Error(`${tokenizer.source}: addEos is on but the tokenizer has no EOS token (pass addEos: false)`);
  // TRL appends the EOS text only when the completion does not already end with it.
  if (ids[ids.length - 1] !== tokenizer.eosId) ids.push(tokenizer.eosId);
  return ids;
}

function tokenizePromptCompletion(
  prompt: string,
  completion: string,
  tokenizer: Tokenizer,
  options: TokenizeOptions,
  completionOnly: boolean,
): TokenizeResult {
  const promptIds = encodePrefix(tokenizer, prompt, { addBos: options.addBos }, options.keepTokens);
  const inputIds = withEos(encodePrefix(tokenizer, prompt + completion, { addBos: options.addBos }, options.keepTokens), tokenizer, options);
  const start = commonPrefixLength(promptIds, inputIds);
  return {
    inputIds,
    labels: completionOnly ? masked(inputIds, [[start, inputIds.length]]) : [...inputIds],
    boundaryMismatch: start !== promptIds.length,
  };
}

type Span = [start: number, end: number];

function masked(ids: readonly number[], spans: readonly Span[]): number[] {
  const labels = new Array<number>(ids.length).fill(IGNORE_INDEX);
  for (const [s, e] of spans) for (let i = s; i < e; i++) labels[i] = ids[i];
  return labels;
}

interface Rendered {
  text: string;
  ids: number[];
}

function render(tokenizer: Tokenizer, messages: ChatMessage[], generationPrompt: boolean, tools: unknown[] | undefined): Rendered {
  const options = { addGenerationPrompt: generationPrompt, variables: tools ? { tools } : undefined };
  try {
    return { text: tokenizer.applyChatTemplate(messages, options), ids: tokenizer.encodeChat(messages, options) };
  } catch (e) {
    // Templates reject conversations they cannot format (raise_exception('roles must alternate'),
    // a system message where none is allowed): a problem with this row, which skipInvalid may skip.
    throw new RowError(undefined, `chat template rejected the conversation: ${(e as Error).message}`);
  }
}

/** Token position in `full` where the rendering `part` ends; its text must be a prefix of full's. */
function boundary(part: Rendered, full: Rendered, what: string): { at: number; exact: boolean } {
  if (!full.text.startsWith(part.text)) {
    throw new RowError(
      undefined,
      `the chat template renders ${what} differently from the same messages inside the whole conversation, ` +
        'so the assistant turns cannot be located (use completionOnly: false, or a template that renders prefixes consistently)',
    );
  }
  const at = commonPrefixLength(part.ids, full.ids);
  return { at, exact: at === part.ids.length };
}

function appendChatEos(full: Rendered, lastRole: string, tokenizer: Tokenizer, options: TokenizeOptions): void {
  if (!options.appendEosToChat || lastRole !== 'assistant') return;
  if (tokenizer.eosId === null) throw new Error(`${tokenizer.source}: appendEosToChat is on but the tokenizer has no EOS token`);
  if (full.ids[full.ids.length - 1] !== tokenizer.eosId) full.ids.push(tokenizer.eosId);
}

function tokenizeConversation(
  messages: ChatMessage[],
  tools: unknown[] | undefined,
  tokenizer: Tokenizer,
  options: TokenizeOptions,
  completionOnly: boolean,
): TokenizeResult {
  const full = render(tokenizer, messages, false, tools);
  appendChatEos(full, messages[messages.length - 1].role, tokenizer, options);
  if (!completionOnly) return { inputIds: full.ids, labels: [...full.ids], boundaryMismatch: false };

  let turns = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  if (turns.length === 0) throw new RowError(undefined, 'the conversation has no assistant message, so nothing would be trained on (use completionOnly: false to train on it all)');
  if (options.assistantTurns === 'last') turns = turns.slice(-1);

  let mismatch = false;
  const spans: Span[] = turns.map((i) => {
    const start = boundary(render(tokenizer, messages.slice(0, i), true, tools), full, `messages[0:${i}] with the generation prompt`);
    const end = boundary(render(tokenizer, messages.slice(0, i + 1), false, tools), full, `messages[0:${i + 1}]`);
    mismatch ||= !start.exact || !end.exact;
    // The final turn's span runs to the end, so an appended EOS is trained on with it.
    return [start.at, i === messages.length - 1 ? full.ids.length : Math.max(end.at, start.at)];
  });
  return { inputIds: full.ids, labels: masked(full.ids, spans), boundaryMismatch: mismatch };
}

function tokenizeChatPromptCompletion(
  prompt: ChatMessage[],
  completion: ChatMessage[],
  tools: unknown[] | undefined,
  tokenizer: Tokenizer,
  options: TokenizeOptions,
  completionOnly: boolean,
): TokenizeResult {
  const messages = [...prompt, ...completion];
  const full = render(tokenizer, messages, false, tools);
  appendChatEos(full, messages[messages.length - 1].role, tokenizer, options);
  if (!completionOnly) return { inputIds: full.ids, labels: [...full.ids], boundaryMismatch: false };
  // TRL: the prompt rendered with the generation prompt is masked, everything after it is trained.
  const start = boundary(render(tokenizer, prompt, true, tools), full, 'the prompt with the generation prompt');
  return { inputIds: full.ids, labels: masked(full.ids, [[start.at, full.ids.length]]), boundaryMismatch: !start.exact };
}
