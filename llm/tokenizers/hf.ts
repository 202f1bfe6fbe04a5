// Hugging Face tokenizer.json (+ tokenizer_config.json) through @huggingface/tokenizers, behind our
// Tokenizer interface. BOS/EOS are added by us (encode runs with add_special_tokens=false), so
// `addBos` means the same thing for every tokenizer; addBosByDefault mirrors what the file's
// post-processor (or tokenizer_config's add_bos_token) would do.
import { Tokenizer as HFTokenizerImpl } from '@huggingface/tokenizers';
import { FormatError } from '../io/format-error.ts';
import { pickChatTemplate, renderChatTemplate } from './chat-template.ts';
import {
  checkTokenId,
  type ChatMessage,
  type ChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
  type SpecialToken,
  type StreamingDecoder,
  type Tokenizer,
} from './tokenizer.ts';

export interface HfTokenizerOptions {
  /** Used in error messages. */
  source?: string;
  /** Overrides tokenizer_config's chat_template (e.g. from chat_template.jinja). */
  chatTemplate?: string;
  /** Which named template to use when chat_template is a list. Default "default". */
  chatTemplateName?: string;
  /** Extra ids that end generation (generation_config.json's eos_token_id may list several). */
  extraStopIds?: readonly number[];
}

type Json = Record<string, unknown>;

/** tokenizer_config.json stores special tokens as a string or as an AddedToken object. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/** The SpecialToken ids a TemplateProcessing "single" template puts before / after the sequence. */
function templateSpecials(json: Json): { first: string | null; last: string | null } {
  const pp = json.post_processor as Json | null | undefined;
  const single = pp && pp.type === 'TemplateProcessing' && Array.isArray(pp.single) ? (pp.single as Json[]) : null;
  if (!single?.length) return { first: null, last: null };
  const special = (p: Json | undefined): string | null => {
    const s = p?.SpecialToken as Json | undefined;
    return typeof s?.id === 'string' ? s.id : null;
  };
  return { first: special(single[0]), last: single.length > 1 ? special(single[single.length - 1]) : null };
}

export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf' as const;
  readonly source: string;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly stopIds: readonly number[];
  readonly addBosByDefault: boolean;
  readonly specialTokens: readonly SpecialToken[];
  readonly chatTemplate: string | null;
  private readonly impl: HFTokenizerImpl;
  private readonly cleanUpSpaces: boolean;
  private readonly tokenStrings: Record<'bos_token' | 'eos_token' | 'unk_token' | 'pad_token', string | null>;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = null, options: HfTokenizerOptions = {}) {
    const source = (this.source = options.source ?? '<tokenizer.json>');
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || Array.isArray(tokenizerJson)) {
      throw new FormatError(source, 'tokenizer.json must be a JSON object');
    }
    const json = tokenizerJson as Json;
    if (typeof json.model !== 'object' || json.model === null) throw new FormatError(source, 'missing the tokenizer model', 'model');
    if (tokenizerConfig !== null && (typeof tokenizerConfig !== 'object' || Array.isArray(tokenizerConfig))) {
      throw new FormatError(source, 'tokenizer_config.json must be a JSON object');
    }
    const config = (tokenizerConfig ?? {}) as Json;
    // transformers' default for clean_up_tokenization_spaces has changed over versions; without a
    // config we keep the text as the decoder produced it.
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;
    try {
      this.impl = new HFTokenizerImpl(json, { ...config, clean_up_tokenization_spaces: this.cleanUpSpaces });
    } catch (e) {
      throw new FormatError(source, `@huggingface/tokenizers rejected it: ${(e as Error).message}`);
    }

    let maxId = -1;
    for (const id of this.impl.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const lookup = (field: string, content: string | null): number | null => {
      if (content === null) return null;
      const id = this.impl.token_to_id(content);
      if (id === undefined) throw new FormatError(source, `token ${JSON.stringify(content)} is not in the vocabulary`, field);
      return id;
    };
    const tpl = templateSpecials(json);
    const bos = tokenContent(config.bos_token) ?? tpl.first;
    // Without a config: the template's trailing special token, else the sentencepiece convention "</s>".
    const eos = tokenContent(config.eos_token) ?? tpl.last ?? (this.impl.token_to_id('</s>') !== undefined && bos === '<s>' ? '</s>' : null);
    this.bosId = lookup('bos_token', bos);
    this.eosId = lookup('eos_token', eos);
    this.tokenStrings = {
      bos_token: bos,
      eos_token: eos,
      unk_token: tokenContent(config.unk_token),
      pad_token: tokenContent(config.pad_token),
    };
    this.stopIds = [...new Set([...(this.eosId === null ? [] : [this.eosId]), ...(options.extraStopIds ?? [])])];

    if (typeof config.add_bos_token === 'boolean') {
      this.addBosByDefault = config.add_bos_token && this.bosId !== null;
    } else {
      // Ask the post-processor: does add_special_tokens=true put BOS in front?
      const plain = this.impl.encode('a', { add_special_tokens: false }).ids;
      const full = this.impl.encode('a', { add_special_tokens: true }).ids;
      this.addBosByDefault = this.bosId !== null && full[0] === this.bosId && plain[0] !== this.bosId;
    }

    this.specialTokens = [...this.impl.get_added_tokens_decoder().values()]
      .filter((t) => t.special)
      .map((t) => ({ id: t.id, content: t.content }))
      .sort((a, b) => a.id - b.id);
    this.chatTemplate = options.chatTemplate ?? pickChatTemplate(config.chat_template, source, options.chatTemplateName);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = this.impl.encode(text, { add_special_tokens: false }).ids;
    if (options.addBos ?? this.addBosByDefault) {
      if (this.bosId === null) throw new Error(`${this.source}: addBos requested but this tokenizer has no BOS token`);
      ids.unshift(this.bosId);
    }
    if (options.addEos) {
      if (this.eosId === null) throw new Error(`${this.source}: addEos requested but this tokenizer has no EOS token`);
      ids.push(this.eosId);
    }
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return '';
    for (const id of ids) checkTokenId(id, this.vocabSize, this.source);
    return this.impl.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /**
   * Decoders (byte fallback, byte-level, strip) work on whole sequences, so the stream decodes a
   * sliding window: text(prefix..all) minus text(prefix..read), emitted once it does not end in an
   * incomplete UTF-8 sequence (U+FFFD). This is the incremental scheme of text-generation-inference.
   */
  streamDecoder(options: DecodeOptions & { previousId?: number } = {}): StreamingDecoder {
    const ids: number[] = options.previousId === undefined ? [] : [options.previousId];
    let prefix = 0;
    let read = ids.length;
    const step = (final: boolean): string => {
      const before = this.decode(ids.slice(prefix, read), options);
      const after = this.decode(ids.slice(prefix), options);
      if (after.length > before.length && (final || !after.endsWith('\uFFFD'))) {
        prefix = read;
        read = ids.length;
        return after.slice(before.length);
      }
      return '';
    };
    return {
      push: (id: number): string => {
        checkTokenId(id, this.vocabSize, this.source);
        ids.push(id);
        return step(false);
      },
      flush: (): string => step(true),
    };
  }

  idToToken(id: number): string | undefined {
    return this.impl.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.impl.token_to_id(token);
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) {
      throw new Error(`${this.source}: no chat template (tokenizer_config.json has no chat_template and no chat_template.jinja was given)`);
    }
    return renderChatTemplate(this.chatTemplate, messages, options, this.tokenStrings, this.source);
  }

  encodeChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, options), { addBos: false });
  }
}
