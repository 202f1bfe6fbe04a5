// llama2.c tokenizer.bin and the encode/decode of llama2.c's run.c, reproduced exactly.
//
// File: int32 max_token_length, then per token: f32 score, int32 len, len bytes (the sentencepiece
// piece with '▁' already turned into ' '; BOS/EOS are stored as "\n<s>\n", "\n</s>\n"; raw bytes as
// "<0xXX>" pieces at ids 3..258).
//
// encode (run.c): optional BOS (id 1); if the text is non-empty, the " " token (add_dummy_prefix);
// each UTF-8 code point becomes its piece, or, if it has none, one "<0xXX>" token per byte (id byte+3);
// then repeatedly merge the adjacent pair whose concatenation is a piece with the highest score
// (leftmost on ties, and only scores above -1e10, as run.c's `best_score = -1e10` with `>`);
// optional EOS (id 2).
// decode (run.c): a piece right after BOS loses its leading space; "<0xXX>" pieces are raw bytes.
// Unlike run.c's safe_printf (which drops lone non-ASCII bytes), we assemble the bytes into UTF-8
// across tokens, so byte-fallback characters come out whole.
import { FormatError } from '../io/format-error.ts';
import { readF32, readI32 } from '../io/little-endian.ts';
import { renderChatTemplate } from './chat-template.ts';
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

/** run.c hard-codes these sentencepiece ids. */
export const LLAMA2C_UNK_ID = 0;
export const LLAMA2C_BOS_ID = 1;
export const LLAMA2C_EOS_ID = 2;
/** Byte b is token b + 3 (after <unk>, <s>, </s>). */
const BYTE_TOKEN_OFFSET = 3;
/** run.c starts its best-pair search at best_score = -1e10 and only takes strictly greater scores. */
const MIN_MERGE_SCORE = -1e10;

export interface Llama2cTokenizerOptions {
  /** Used in error messages. */
  source?: string;
  /** Expected vocabulary size (the model's vocab_size); a file with a different count is an error. */
  vocabSize?: number;
  /** A Jinja chat template to use with applyChatTemplate (tokenizer.bin has none). */
  chatTemplate?: string;
}

/** A byte string as a JS string of char codes 0..255: a cheap exact Map key for byte sequences. */
function binaryString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c' as const;
  readonly bosId = LLAMA2C_BOS_ID;
  readonly eosId = LLAMA2C_EOS_ID;
  readonly addBosByDefault = true;
  /**
   * run.c stops at BOS: llama2.c training data delimits stories with BOS and has no EOS. EOS is
   * included too, for Llama 2 chat models exported to this format (run.c would print past it).
   */
  readonly stopIds = [LLAMA2C_BOS_ID, LLAMA2C_EOS_ID];
  readonly chatTemplate: string | null;
  readonly specialTokens: readonly SpecialToken[];

  private readonly lookup = new Map<string, number>();
  /** binaryString of each piece, for building merge candidates. */
  private readonly keys: string[];
  /** What each id decodes to: its piece bytes, or the single raw byte of a "<0xXX>" piece. */
  private readonly decoded: Uint8Array[];
  private readonly spaceId: number | undefined;

  private constructor(
    readonly source: string,
    readonly maxTokenLength: number,
    /** Raw piece bytes as stored in the file. */
    readonly pieces: readonly Uint8Array[],
    readonly scores: Float32Array,
    chatTemplate: string | null,
  ) {
    this.keys = pieces.map(binaryString);
    this.keys.forEach((key, id) => {
      // run.c bsearches a sorted copy; with unique pieces (as in every llama2.c vocabulary) any
      // lookup is exact. On a duplicate we keep the first id.
      if (!this.lookup.has(key)) this.lookup.set(key, id);
    });
    this.decoded = pieces.map((p) => {
      const m = BYTE_PIECE.exec(binaryString(p));
      return m ? Uint8Array.of(parseInt(m[1]!, 16)) : p;
    });
    this.spaceId = this.lookup.get(' ');
    this.chatTemplate = chatTemplate;
    // Stored as "\n<s>\n" etc.; the token itself is the part between the newlines.
    this.specialTokens = [LLAMA2C_UNK_ID, LLAMA2C_BOS_ID, LLAMA2C_EOS_ID].map((id) => ({
      id,
      content: new TextDecoder().decode(pieces[id]).trim(),
    }));
  }

  /** Parses tokenizer.bin bytes. */
  static fromBytes(bytes: Uint8Array, options: Llama2cTokenizerOptions = {}): Llama2cTokenizer {
    const source = options.source ?? '<tokenizer.bin>';
    if (bytes.length < 4) throw new FormatError(source, `file is ${bytes.length} bytes; tokenizer.bin starts with an int32 max_token_length`);
    const maxTokenLength = readI32(bytes, 0);
    if (maxTokenLength <= 0) throw new FormatError(source, `must be positive, got ${maxTokenLength}`, 'max_token_length');
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    let p = 4;
    while (p < bytes.length) {
      const id = pieces.length;
      if (p + 8 > bytes.length) {
        throw new FormatError(source, `truncated: ${bytes.length - p} bytes left at offset ${p}, need 8 for score and length`, `token ${id}`);
      }
      const score = readF32(bytes, p);
      const len = readI32(bytes, p + 4);
      p += 8;
      if (len < 0 || len > maxTokenLength) {
        throw new FormatError(source, `length ${len} at offset ${p - 4} is outside [0, max_token_length=${maxTokenLength}]`, `token ${id}`);
      }
      if (p + len > bytes.length) {
        throw new FormatError(source, `truncated: needs ${len} bytes at offset ${p}, file has ${bytes.length - p} left`, `token ${id}`);
      }
      pieces.push(bytes.slice(p, p + len));
      scores.push(score);
      p += len;
    }
    if (options.vocabSize !== undefined && options.vocabSize !== pieces.length) {
      throw new FormatError(source, `has ${pieces.length} tokens but the model's vocab_size is ${options.vocabSize}`);
    }
    if (pieces.length < BYTE_TOKEN_OFFSET + 256) {
      throw new FormatError(source, `has ${pieces.length} tokens; a llama2.c vocabulary has <unk>, <s>, </s> and 256 byte tokens first`);
    }
    return new Llama2cTokenizer(source, maxTokenLength, pieces, new Float32Array(scores), options.chatTemplate ?? null);
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  idToToken(id: number): string | undefined {
    const p = this.pieces[id];
    return p && new TextDecoder().decode(p);
  }

  tokenToId(token: string): number | undefined {
    return this.lookup.get(binaryString(new TextEncoder().encode(token)));
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const bytes = new TextEncoder().encode(text);
    const tokens: number[] = [];
    if (options.addBos ?? this.addBosByDefault) tokens.push(LLAMA2C_BOS_ID);
    if (bytes.length > 0) {
      if (this.spaceId === undefined) throw new Error(`${this.source}: vocabulary has no " " piece for the dummy prefix`);
      tokens.push(this.spaceId);
    }
    // One token per code point (up to 4 bytes; run.c's buffer caps a run of continuation bytes at 4).
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i]! & 0xc0) !== 0x80) start = i;
      const len = i - start + 1;
      if (i + 1 < bytes.length && (bytes[i + 1]! & 0xc0) === 0x80 && len < 4) continue;
      const cp = bytes.subarray(start, i + 1);
      const id = this.lookup.get(binaryString(cp));
      if (id !== undefined) tokens.push(id);
      else for (const b of cp) tokens.push(b + BYTE_TOKEN_OFFSET);
      start = i + 1;
    }
    const merged = this.mergePairs(tokens);
    if (options.addEos) merged.push(LLAMA2C_EOS_ID);
    return merged;
  }

  /**
   * run.c's merge loop (rescan all pairs, merge the best, repeat) in O(n log n): a heap of candidate
   * pairs ordered by score, then by position, over a linked list; stale entries are skipped.
   */
  private mergePairs(ids: number[]): number[] {
    const n = ids.length;
    if (n < 2) return ids;
    const id = Int32Array.from(ids);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const keys = this.keys;
    // Heap entries: [score, left, right, leftId, rightId, mergedId]
    type Cand = [number, number, number, number, number, number];
    const heap: Cand[] = [];
    const better = (a: Cand, b: Cand): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] < b[1]);
    const pushHeap = (c: Cand): void => {
      heap.push(c);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!better(heap[i]!, heap[parent]!)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    };
    const popHeap = (): Cand => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && better(heap[l]!, heap[m]!)) m = l;
          if (r < heap.length && better(heap[r]!, heap[m]!)) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m]!, heap[i]!];
          i = m;
        }
      }
      return top;
    };
    const consider = (left: number): void => {
      const right = next[left]!;
      if (left < 0 || right < 0) return;
      const merged = this.lookup.get(keys[id[left]!]! + keys[id[right]!]!);
      if (merged === undefined) return;
      const score = this.scores[merged]!;
      if (score > MIN_MERGE_SCORE) pushHeap([score, left, right, id[left]!, id[right]!, merged]);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.length) {
      const [, left, right, leftId, rightId, merged] = popHeap();
      if (!alive[left] || !alive[right] || next[left] !== right || id[left] !== leftId || id[right] !== rightId) continue;
      id[left] = merged;
      alive[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = left;
      if (prev[left]! >= 0) consider(prev[left]!);
      consider(left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(id[i]!);
    return out;
  }

  /** The bytes run.c's decode(prev, id) produces. */
  private pieceBytes(prevId: number | undefined, tokenId: number): Uint8Array {
    checkTokenId(tokenId, this.vocabSize, this.source);
    const piece = this.pieces[tokenId]!;
    // A piece starting with ' ' is never a "<0xXX>" byte piece, so stripping it is all there is to do.
    if (prevId === LLAMA2C_BOS_ID && piece[0] === 0x20) return piece.subarray(1);
    return this.decoded[tokenId]!;
  }

  streamDecoder(options: DecodeOptions & { previousId?: number } = {}): StreamingDecoder {
    const utf8 = new TextDecoder('utf-8');
    let prev = options.previousId;
    const skip = options.skipSpecialTokens ?? false;
    return {
      push: (tokenId: number): string => {
        const bytes = this.pieceBytes(prev, tokenId);
        prev = tokenId;
        if (skip && tokenId <= LLAMA2C_EOS_ID) return '';
        return utf8.decode(bytes, { stream: true });
      },
      flush: (): string => utf8.decode(),
    };
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const d = this.streamDecoder(options);
    let s = '';
    for (const tokenId of ids) s += d.push(tokenId);
    return s + d.flush();
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) throw new Error(`${this.source}: this tokenizer has no chat template (pass chatTemplate when loading it)`);
    const [unk, bos, eos] = this.specialTokens.map((t) => t.content);
    return renderChatTemplate(this.chatTemplate, messages, options, { bos_token: bos, eos_token: eos, unk_token: unk }, this.source);
  }

  /**
   * The rendered template holds BOS/EOS as text ("<s>"); run.c's encode would spell them out, so the
   * text is split on them first and each piece between is encoded on its own (dummy prefix included),
   * which is what a sentencepiece/HF Llama tokenizer does with special tokens in text.
   */
  encodeChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): number[] {
    const text = this.applyChatTemplate(messages, options);
    const specials = this.specialTokens.filter((t) => t.content !== '');
    const pattern = new RegExp(`(${specials.map((t) => t.content.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`);
    const ids: number[] = [];
    for (const part of text.split(pattern)) {
      const special = specials.find((t) => t.content === part);
      if (special) ids.push(special.id);
      else if (part !== '') ids.push(...this.encode(part, { addBos: false }));
    }
    return ids;
  }
}
