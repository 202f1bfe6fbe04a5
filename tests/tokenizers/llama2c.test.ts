import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../llm/io/format-error.ts';
import { Llama2cTokenizer } from '../../llm/tokenizers/llama2c.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

/**
 * run.c's encode transliterated as literally as possible (linear scans, rescans after each merge),
 * as an independent reference for our heap-based merge loop.
 */
const vocabCache = new WeakMap<Llama2cTokenizer, { vocab: string[]; index: Map<string, number> }>();
function runCEncode(tok: Llama2cTokenizer, text: string, bos: boolean): number[] {
  if (!vocabCache.has(tok)) {
    const vocab = tok.pieces.map((b) => Array.from(b, (x) => String.fromCharCode(x)).join(''));
    const index = new Map<string, number>();
    vocab.forEach((s, i) => index.has(s) || index.set(s, i));
    vocabCache.set(tok, { vocab, index });
  }
  const { vocab, index } = vocabCache.get(tok)!;
  // run.c's str_lookup: the id of an exactly equal piece, or -1.
  const lookup = (s: string): number => index.get(s) ?? -1;
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  const bytes = new TextEncoder().encode(text);
  if (bytes.length) tokens.push(lookup(' '));
  let buf: number[] = [];
  for (let c = 0; c < bytes.length; c++) {
    if ((bytes[c]! & 0xc0) !== 0x80) buf = [];
    buf.push(bytes[c]!);
    const nextByte = c + 1 < bytes.length ? bytes[c + 1]! : 0;
    if ((nextByte & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = lookup(String.fromCharCode(...buf));
    if (id !== -1) tokens.push(id);
    else for (const b of buf) tokens.push(b + 3);
    buf = [];
  }
  for (;;) {
    let bestScore = -1e10;
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = lookup(vocab[tokens[i]!]! + vocab[tokens[i + 1]!]!);
      if (id !== -1 && tok.scores[id]! > bestScore) {
        bestScore = tok.scores[id]!;
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  return tokens;
}

const LLAMA2_BIN = 'tokenizers/llama2/tokenizer.bin';
const VECTORS = 'tokenizers/llama2/tokenizer_bin_encode_vectors.json';
const haveLlama2 = haveAssets(LLAMA2_BIN, VECTORS, 'data/text/tinyshakespeare.txt');

describe.skipIf(!haveLlama2)(`llama2.c tokenizer.bin (Llama 2, 32000)${skipNote(haveLlama2)}`, () => {
  const tok = haveLlama2 ? Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(asset(LLAMA2_BIN))), { source: LLAMA2_BIN }) : null!;
  const vectors: { prompt: string; ids: number[] }[] = haveLlama2 ? JSON.parse(readFileSync(asset(VECTORS), 'utf8')).cases : [];

  it('parses the file', () => {
    expect(tok.vocabSize).toBe(32000);
    expect(tok.maxTokenLength).toBe(27);
    expect(tok.specialTokens).toEqual([{ id: 0, content: '<unk>' }, { id: 1, content: '<s>' }, { id: 2, content: '</s>' }]);
    expect(tok.tokenToId(' the')).toBe(278);
    expect(tok.idToToken(306)).toBe(' I');
  });

  it("encodes every case of llama2.c's test.c exactly", () => {
    expect(vectors.length).toBe(5);
    for (const c of vectors) expect(tok.encode(c.prompt, { addBos: true }), JSON.stringify(c.prompt)).toEqual(c.ids);
    expect(tok.encode('I believe', { addBos: false, addEos: true })).toEqual([306, 4658, 2]);
  });

  it('decodes the vectors back to their prompts (leading space dropped after BOS)', () => {
    for (const c of vectors) expect(tok.decode(c.ids, { skipSpecialTokens: true })).toBe(c.prompt);
    // Without BOS before it, the first piece keeps its space, as run.c's decode does.
    expect(tok.decode([306, 4658])).toBe(' I believe');
    expect(tok.decode([1, 306, 4658])).toBe('\n<s>\nI believe');
    expect(tok.streamDecoder({ previousId: 1 }).push(306)).toBe('I');
  });

  it('matches a literal transliteration of run.c on real text', () => {
    const lines = readFileSync(asset('data/text/tinyshakespeare.txt'), 'utf8').split('\n').slice(0, 120);
    const texts = [...lines, lines.slice(0, 40).join('\n'), 'héllo wörld 日本語 🦙', '  two  spaces  ', '\t\ttabs', 'a\u0000b', '\u0301 stray combining', 'x'.repeat(50)];
    for (const t of texts) expect(tok.encode(t, { addBos: true }), JSON.stringify(t)).toEqual(runCEncode(tok, t, true));
  });

  it('falls back to <0xXX> byte tokens (id = byte + 3) and reassembles UTF-8 across tokens', () => {
    expect(tok.tokenToId('🦙')).toBeUndefined();
    // U+1F999 = F0 9F A6 99
    const ids = tok.encode('🦙', { addBos: false });
    expect(ids).toEqual([29871, 0xf0 + 3, 0x9f + 3, 0xa6 + 3, 0x99 + 3]);
    expect(tok.decode(ids)).toBe(' 🦙');
    const d = tok.streamDecoder();
    expect(ids.map((id) => d.push(id))).toEqual([' ', '', '', '', '🦙']);
    expect(d.flush()).toBe('');
    // An incomplete sequence at the end becomes U+FFFD on flush, not lost.
    const cut = tok.streamDecoder();
    expect(cut.push(0xf0 + 3)).toBe('');
    expect(cut.flush()).toBe('\ufffd');
  });

  it('rejects ids outside the vocabulary', () => {
    expect(() => tok.decode([32000])).toThrow(/token id 32000 is outside the vocabulary \[0, 32000\)/);
  });

  it('renders a chat template and encodes BOS/EOS in it as ids', () => {
    const t = Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(asset(LLAMA2_BIN))), {
      chatTemplate: "{% for m in messages %}{{ bos_token }}[INST] {{ m.content }} [/INST]{% endfor %}",
    });
    const messages = [{ role: 'user', content: 'Hi' }];
    expect(t.applyChatTemplate(messages)).toBe('<s>[INST] Hi [/INST]');
    const ids = t.encodeChat(messages);
    expect(ids[0]).toBe(1);
    expect(ids.slice(1)).toEqual(t.encode('[INST] Hi [/INST]', { addBos: false }));
    expect(() => tok.applyChatTemplate(messages)).toThrow(/has no chat template/);
  });
});

const TOK512 = 'models/stories260K/tok512.bin';
const LOGITS = 'models/stories260K/golden/reference_logits.json';
const GOLDEN = 'models/stories260K/golden/stories260K_greedy_n200.txt';
const have512 = haveAssets(TOK512, LOGITS, GOLDEN, 'data/text/tinystories_sample.txt');

describe.skipIf(!have512)(`llama2.c tok512.bin (stories260K)${skipNote(have512)}`, () => {
  const bytes = have512 ? new Uint8Array(readFileSync(asset(TOK512))) : new Uint8Array();
  const tok = have512 ? Llama2cTokenizer.fromBytes(bytes, { source: TOK512, vocabSize: 512 }) : null!;

  it('encodes like sentencepiece on the reference prompts', () => {
    const cases: { prompt: string; ids: number[] }[] = JSON.parse(readFileSync(asset(LOGITS), 'utf8')).cases;
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) expect(tok.encode(c.prompt), c.prompt).toEqual(c.ids);
  });

  it('round-trips story text and the golden run.c output', () => {
    const texts = [readFileSync(asset(GOLDEN), 'utf8'), ...readFileSync(asset('data/text/tinystories_sample.txt'), 'utf8').split('\n')];
    for (const t of texts) {
      const ids = tok.encode(t);
      expect(ids.every((id) => id >= 0 && id < 512)).toBe(true);
      expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(t);
      expect(ids).toEqual(runCEncode(tok, t, true));
    }
  });

  it('uses byte tokens for characters outside its 512 pieces', () => {
    // tok512 has 'é' (485) but not 'ß' = C3 9F; its " " piece is id 410.
    expect(tok.tokenToId('é')).toBe(485);
    expect(tok.tokenToId('ß')).toBeUndefined();
    expect(tok.encode('ß', { addBos: false })).toEqual([410, 0xc3 + 3, 0x9f + 3]);
    expect(tok.decode([1, 410, 0xc3 + 3, 0x9f + 3])).toBe('\n<s>\nß');
    expect(tok.decode([1, 410, 0xc3 + 3, 0x9f + 3], { skipSpecialTokens: true })).toBe('ß');
  });

  it('reports truncated and malformed files', () => {
    const expectFormat = (b: Uint8Array, options: { vocabSize?: number }, pattern: RegExp): void => {
      const fn = (): unknown => Llama2cTokenizer.fromBytes(b, { source: 'tok.bin', ...options });
      expect(fn).toThrow(FormatError);
      expect(fn).toThrow(pattern);
    };
    expectFormat(bytes.slice(0, 2), {}, /tok\.bin: file is 2 bytes/);
    expectFormat(bytes.slice(0, bytes.length - 1), {}, /tok\.bin: token 511: truncated: needs \d+ bytes at offset \d+, file has \d+ left/);
    expectFormat(bytes.slice(0, 4 + 5), {}, /token 0: truncated: 5 bytes left at offset 4, need 8/);
    const badLen = bytes.slice();
    new DataView(badLen.buffer).setInt32(8, 100, true);
    expectFormat(badLen, {}, /token 0: length 100 at offset 8 is outside \[0, max_token_length=7\]/);
    expectFormat(bytes, { vocabSize: 32000 }, /has 512 tokens but the model's vocab_size is 32000/);
    const zeroMax = bytes.slice();
    new DataView(zeroMax.buffer).setInt32(0, 0, true);
    expectFormat(zeroMax, {}, /max_token_length: must be positive, got 0/);
  });
});
