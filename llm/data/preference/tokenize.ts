// A prompt and its completions -> token ids, as TRL 1.x's DPOTrainer/KTOTrainer `_prepare_dataset`
// does it (trl/trainer/dpo_trainer.py and kto_trainer.py, `tokenize_fn`, TRL 1.x as of early 2026):
//
//   plain text:      EOS text appended to each completion unless it already ends with it ("Adding EOS");
//                    prompt_ids = tok(prompt), full = tok(prompt + completion), BOS as the tokenizer
//                    adds it by default (`_tokenize` calls the tokenizer with its default special tokens)
//   conversational:  prompt_ids = chat_template(prompt, add_generation_prompt=True),
//                    full = chat_template(prompt + completion); no EOS added (the template ends turns)
//   completion_ids = full[len(prompt_ids):]
//
// The completion is cut from the whole at the prompt's token count, not at the longest common
// prefix: if the prompt's tokens are not a prefix of the whole's (a merge across the boundary),
// TRL only warns, and the model then sees prompt_ids + full[len(prompt_ids):]; so does this, and
// the row is counted in stats.boundaryMismatches.
//
// Appending the EOS id after tokenizing prompt + completion equals tokenizing the text with the EOS
// text appended, since tokenizers split special tokens out of the text before anything else.
import type { ChatMessage, Tokenizer } from '../../tokenizers/tokenizer.ts';
import { RowError } from '../formats.ts';

export interface PreferenceTokenizeOptions {
  /** Prepend BOS to plain-text prompts. Default: what the tokenizer does by default (as TRL). */
  addBos?: boolean;
  /** Append EOS to plain-text completions (TRL does). Default true. */
  addEos?: boolean;
  /**
   * Append EOS to conversational completions too. TRL does not (the chat template ends the turn);
   * default false. The dataset turns it on with the built-in ChatML fallback, whose <|im_end|> is
   * not a token generation stops on in vocabularies without it (as SFT does).
   */
  appendEosToChat?: boolean;
}

export interface TokenizedCompletions {
  prompt: number[];
  /** One per completion given, in order. */
  completions: number[][];
  /** The prompt's tokens were not a prefix of some prompt + completion's tokens. */
  boundaryMismatch: boolean;
}

function eosId(tokenizer: Tokenizer, what: string): number {
  if (tokenizer.eosId === null) throw new Error(`${tokenizer.source}: ${what} is on but the tokenizer has no EOS token`);
  return tokenizer.eosId;
}

function startsWith(ids: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > ids.length) return false;
  for (let i = 0; i < prefix.length; i++) if (ids[i] !== prefix[i]) return false;
  return true;
}

export function tokenizeTextCompletions(prompt: string, completions: readonly string[], tokenizer: Tokenizer, options: PreferenceTokenizeOptions = {}): TokenizedCompletions {
  const addEos = options.addEos ?? true;
  const eos = addEos ? eosId(tokenizer, 'addEos') : null;
  const eosText = eos === null ? undefined : tokenizer.idToToken(eos);
  const promptIds = tokenizer.encode(prompt, { addBos: options.addBos });
  let mismatch = false;
  const out = completions.map((completion) => {
    let text = completion;
    // TRL: `if not completion.endswith(eos_token): completion += eos_token`. Either way the text
    // then ends with exactly one EOS, which becomes the EOS id.
    if (eosText && text.endsWith(eosText)) text = text.slice(0, -eosText.length);
    const full = tokenizer.encode(prompt + text, { addBos: options.addBos });
    if (eos !== null) full.push(eos);
    mismatch ||= !startsWith(full, promptIds);
    return full.slice(promptIds.length);
  });
  return { prompt: promptIds, completions: out, boundaryMismatch: mismatch };
}

function encodeChat(tokenizer: Tokenizer, messages: ChatMessage[], generationPrompt: boolean, tools: unknown[] | undefined): number[] {
  try {
    return tokenizer.encodeChat(messages, { addGenerationPrompt: generationPrompt, variables: tools ? { tools } : undefined });
  } catch (e) {
    // Templates reject conversations they cannot format (roles must alternate, ...): this row's problem.
    throw new RowError(undefined, `chat template rejected the conversation: ${(e as Error).message}`);
  }
}

export function tokenizeChatCompletions(
  prompt: ChatMessage[],
  completions: readonly ChatMessage[][],
  tools: unknown[] | undefined,
  tokenizer: Tokenizer,
  options: PreferenceTokenizeOptions = {},
): TokenizedCompletions {
  const promptIds = encodeChat(tokenizer, prompt, true, tools);
  let mismatch = false;
  const out = completions.map((completion) => {
    const full = encodeChat(tokenizer, [...prompt, ...completion], false, tools);
    if (options.appendEosToChat && completion[completion.length - 1]?.role === 'assistant') {
      const eos = eosId(tokenizer, 'appendEosToChat');
      if (full[full.length - 1] !== eos) full.push(eos);
    }
    mismatch ||= !startsWith(full, promptIds);
    return full.slice(promptIds.length);
  });
  return { prompt: promptIds, completions: out, boundaryMismatch: mismatch };
}
