// The interface every tokenizer implements (llama2.c tokenizer.bin, Hugging Face tokenizer.json),
// so model, training and CLI code never care which file a vocabulary came from.

export interface EncodeOptions {
  /** Prepend the BOS token. Default: the tokenizer's own default (`addBosByDefault`). */
  addBos?: boolean;
  /** Append the EOS token. Default false. */
  addEos?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, UNK, added special tokens) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** Incremental detokenizer for generation: push ids one at a time, get text as soon as it is whole. */
export interface StreamingDecoder {
  /** Text completed by this token; '' while a multi-byte UTF-8 character is still incomplete. */
  push(id: number): string;
  /** Whatever is pending (an incomplete UTF-8 sequence becomes U+FFFD). */
  flush(): string;
}

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** End the prompt with the template's assistant header so the model answers next. Default true. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. tools, documents, date_string). */
  variables?: Record<string, unknown>;
}

export interface SpecialToken {
  id: number;
  content: string;
}

export interface Tokenizer {
  readonly kind: 'llama2c' | 'hf';
  /** Where it was loaded from (for messages). */
  readonly source: string;
  /** Number of ids (the largest id + 1, added tokens included). */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Ids that end generation (EOS, plus e.g. generation_config.json's extra eos ids). */
  readonly stopIds: readonly number[];
  /** Whether encode() prepends BOS when not told otherwise. */
  readonly addBosByDefault: boolean;
  readonly specialTokens: readonly SpecialToken[];
  /** Jinja chat template, if the tokenizer has one. */
  readonly chatTemplate: string | null;

  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** A streaming decoder; `previousId` is the token before the first one pushed (e.g. the prompt's last). */
  streamDecoder(options?: DecodeOptions & { previousId?: number }): StreamingDecoder;
  /** The vocabulary entry as the file stores it (HF: '▁the' / 'Ġthe'; llama2.c: ' the'). */
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** Renders `chatTemplate` (throws if there is none). The result already contains BOS if the template adds it. */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /** applyChatTemplate, then encode without adding BOS again (as transformers' apply_chat_template(tokenize=True)). */
  encodeChat(messages: readonly ChatMessage[], options?: ChatTemplateOptions): number[];
}

/** Throws a clear error for an id outside [0, vocabSize). */
export function checkTokenId(id: number, vocabSize: number, source: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new RangeError(`${source}: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
  }
}
