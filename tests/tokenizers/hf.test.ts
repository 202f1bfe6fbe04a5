import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HfTokenizer } from '../../llm/tokenizers/hf.ts';
import { Llama2cTokenizer } from '../../llm/tokenizers/llama2c.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import type { Tokenizer } from '../../llm/tokenizers/tokenizer.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wgrad-tok-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function streamAll(tok: Tokenizer, ids: number[], options = {}): string[] {
  const d = tok.streamDecoder(options);
  return [...ids.map((id) => d.push(id)), d.flush()];
}

const LLAMA2 = 'tokenizers/llama2';
const haveLlama2 = haveAssets(`${LLAMA2}/tokenizer.json`, `${LLAMA2}/tokenizer.bin`, `${LLAMA2}/tokenizer_bin_encode_vectors.json`, 'data/text/tinyshakespeare.txt', 'data/gsm8k/test.jsonl');

describe.skipIf(!haveLlama2)(`HF tokenizer.json (Llama 2) vs llama2.c tokenizer.bin${skipNote(haveLlama2)}`, async () => {
  const hf = haveLlama2 ? ((await loadTokenizer(asset(`${LLAMA2}/tokenizer.json`))) as HfTokenizer) : null!;
  const bin = haveLlama2 ? ((await loadTokenizer(asset(`${LLAMA2}/tokenizer.bin`))) as Llama2cTokenizer) : null!;
  const vectors: { prompt: string; ids: number[] }[] = haveLlama2 ? JSON.parse(readFileSync(asset(`${LLAMA2}/tokenizer_bin_encode_vectors.json`), 'utf8')).cases : [];

  it('loads by file type', () => {
    expect(hf.kind).toBe('hf');
    expect(bin.kind).toBe('llama2c');
    // No tokenizer_config.json next to it: BOS/EOS come from the post-processor and "</s>".
    expect({ vocab: hf.vocabSize, bos: hf.bosId, eos: hf.eosId, addBos: hf.addBosByDefault }).toEqual({ vocab: 32000, bos: 1, eos: 2, addBos: true });
    expect(hf.specialTokens).toEqual(bin.specialTokens);
    expect(hf.chatTemplate).toBeNull();
  });

  it('encodes the llama2.c test vectors to the same ids', () => {
    for (const c of vectors) {
      expect(hf.encode(c.prompt), c.prompt).toEqual(c.ids);
      expect(hf.decode(c.ids, { skipSpecialTokens: true })).toBe(c.prompt);
    }
    expect(hf.encode('I believe', { addBos: false, addEos: true })).toEqual([306, 4658, 2]);
  });

  it('agrees with tokenizer.bin on thousands of real lines', () => {
    const texts = readFileSync(asset('data/text/tinyshakespeare.txt'), 'utf8').split('\n').slice(0, 2000);
    for (const line of readFileSync(asset('data/gsm8k/test.jsonl'), 'utf8').split('\n').slice(0, 300)) {
      if (line) texts.push(JSON.parse(line).question);
    }
    texts.push('héllo wörld 日本語 🦙', '  two  spaces  ', '\t\ttabs\n', 'a\u0000b', ' ', '\n\n');
    const mismatched = texts.filter((t) => JSON.stringify(hf.encode(t)) !== JSON.stringify(bin.encode(t)));
    expect(mismatched).toEqual([]);
  });

  it('known difference 1: special-token text like "<s>" is an id for HF, plain characters for llama2.c', () => {
    const text = 'a</s>b';
    // HF splits added special tokens out of the text; each remaining part gets its own "▁" prefix,
    // so "b" becomes "▁b" (289).
    expect(hf.encode(text, { addBos: false }).map((id) => hf.idToToken(id))).toEqual(['▁a', '</s>', '▁b']);
    expect(hf.encode(text, { addBos: false })).toEqual([263, 2, 289]);
    // run.c spells it out: " a", "</", "s", ">", "b".
    expect(bin.encode(text, { addBos: false }).map((id) => bin.idToToken(id))).toEqual([' a', '</', 's', '>', 'b']);
    expect(bin.encode(text, { addBos: false })).toEqual([263, 829, 29879, 29958, 29890]);
  });

  it('known difference 2: HF strips the leading space of any decoded text, llama2.c only right after BOS', () => {
    const ids = [306, 4658]; // " I", " believe"
    expect(hf.decode(ids)).toBe('I believe');
    expect(bin.decode(ids)).toBe(' I believe');
    expect(hf.decode([1, ...ids], { skipSpecialTokens: true })).toBe(bin.decode([1, ...ids], { skipSpecialTokens: true }));
    // Unskipped BOS: HF prints "<s>" then the space; llama2.c prints its stored piece "\n<s>\n".
    expect(hf.decode([1, ...ids])).toBe('<s> I believe');
    expect(bin.decode([1, ...ids])).toBe('\n<s>\nI believe');
  });

  it('streams text that equals decode(), holding back incomplete UTF-8', () => {
    const text = 'Llamas 🦙 say ¡hola! 日本';
    const ids = hf.encode(text);
    const pieces = streamAll(hf, ids, { skipSpecialTokens: true });
    expect(pieces.join('')).toBe(hf.decode(ids, { skipSpecialTokens: true }));
    expect(pieces.join('')).toBe(text);
    // 🦙 is four byte tokens: nothing comes out until the last one.
    const llama = hf.encode('🦙', { addBos: false });
    expect(llama).toEqual([29871, 243, 162, 169, 156]);
    expect(streamAll(hf, llama)).toEqual(['', '', '', '', '🦙', '']);
    // Continuing after a prompt token keeps the space that decode() of the tail alone would strip.
    expect(streamAll(hf, [4658], { previousId: 306 }).join('')).toBe(' believe');
    expect(() => hf.decode([32000])).toThrow(/token id 32000 is outside the vocabulary/);
    expect(hf.decode([])).toBe('');
  });

  it('encodes a chat template identically through either file', () => {
    const chatTemplate = "{% for m in messages %}{% if m.role == 'user' %}{{ bos_token }}[INST] {{ m.content }} [/INST]{% else %} {{ m.content }} {{ eos_token }}{% endif %}{% endfor %}";
    const messages = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Name a llama.' },
    ];
    const h = new HfTokenizer(JSON.parse(readFileSync(asset(`${LLAMA2}/tokenizer.json`), 'utf8')), { bos_token: '<s>', eos_token: '</s>' }, { chatTemplate });
    const b = Llama2cTokenizer.fromBytes(new Uint8Array(readFileSync(asset(`${LLAMA2}/tokenizer.bin`))), { chatTemplate });
    const text = '<s>[INST] Hi [/INST] Hello! </s><s>[INST] Name a llama. [/INST]';
    expect(h.applyChatTemplate(messages)).toBe(text);
    expect(b.applyChatTemplate(messages)).toBe(text);
    const ids = h.encodeChat(messages);
    expect(ids.filter((id) => id === 1).length).toBe(2); // BOS from the template only, not added again
    expect(ids[0]).toBe(1);
    expect(b.encodeChat(messages)).toEqual(ids);
  });
});

const STORIES = 'models/stories260K-hf';
const haveStories = haveAssets(`${STORIES}/tokenizer.json`, `${STORIES}/tokenizer_config.json`, 'models/stories260K/tok512.bin', 'models/stories260K/golden/reference_logits.json', 'data/text/tinystories_sample.txt');

describe.skipIf(!haveStories)(`HF tokenizer.json (stories260K-hf)${skipNote(haveStories)}`, async () => {
  const hf = haveStories ? await loadTokenizer(asset(STORIES)) : null!;
  const bin = haveStories ? await loadTokenizer(asset('models/stories260K/tok512.bin'), { vocabSize: 512 }) : null!;

  it('reads tokenizer_config.json and generation_config.json from the folder', () => {
    expect(hf.kind).toBe('hf');
    expect(hf.source).toBe(join(asset(STORIES), 'tokenizer.json'));
    expect({ vocab: hf.vocabSize, bos: hf.bosId, eos: hf.eosId, addBos: hf.addBosByDefault }).toEqual({ vocab: 512, bos: 1, eos: 2, addBos: true });
    expect((hf as HfTokenizer).stopIds).toEqual([2]);
    expect(hf.specialTokens.map((t) => t.content)).toEqual(['<unk>', '<s>', '</s>']);
  });

  it('encodes the reference prompts like sentencepiece, and story text like tok512.bin', () => {
    const cases: { prompt: string; ids: number[] }[] = JSON.parse(readFileSync(asset('models/stories260K/golden/reference_logits.json'), 'utf8')).cases;
    for (const c of cases) expect(hf.encode(c.prompt), c.prompt).toEqual(c.ids);
    const lines = readFileSync(asset('data/text/tinystories_sample.txt'), 'utf8').split('\n');
    for (const line of lines) {
      const ids = hf.encode(line);
      expect(ids, line).toEqual(bin.encode(line));
      expect(hf.decode(ids, { skipSpecialTokens: true })).toBe(line);
      expect(streamAll(hf, ids, { skipSpecialTokens: true }).join('')).toBe(line);
    }
  });

  it('renders chat templates from tokenizer_config.json or chat_template.jinja', async () => {
    const dir = tempDir();
    symlinkSync(asset(`${STORIES}/tokenizer.json`), join(dir, 'tokenizer.json'));
    const config = JSON.parse(readFileSync(asset(`${STORIES}/tokenizer_config.json`), 'utf8'));
    const chatml =
      "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' and not loop.first %}{{ raise_exception('system must come first') }}{% endif %}" +
      "<|{{ m.role }}|>\n{{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}";
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: chatml }));
    const tok = await loadTokenizer(dir);
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Tell a story.' },
    ];
    expect(tok.applyChatTemplate(messages)).toBe('<s><|system|>\nBe brief.</s>\n<|user|>\nTell a story.</s>\n<|assistant|>\n');
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: false })).toBe('<s><|system|>\nBe brief.</s>\n<|user|>\nTell a story.</s>\n');
    expect(() => tok.applyChatTemplate([messages[1]!, messages[0]!])).toThrow(/rendering the chat template failed: system must come first/);
    const ids = tok.encodeChat(messages);
    expect(ids[0]).toBe(1);
    expect(ids[1]).not.toBe(1);
    expect(ids.filter((id) => id === 2).length).toBe(2);

    // Named templates (a list) and chat_template.jinja, which wins over the config.
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: [{ name: 'default', template: '{{ messages[0].content }}!' }, { name: 'tool_use', template: 'tools' }] }));
    expect((await loadTokenizer(dir)).applyChatTemplate(messages)).toBe('Be brief.!');
    expect((await loadTokenizer(dir, { chatTemplateName: 'tool_use' })).applyChatTemplate(messages)).toBe('tools');
    await expect(loadTokenizer(dir, { chatTemplateName: 'rag' })).rejects.toThrow(/no template named "rag" \(it has "default", "tool_use"\)/);
    writeFileSync(join(dir, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}]{% endfor %}');
    expect((await loadTokenizer(dir)).applyChatTemplate(messages)).toBe('[system][user]');
    expect(() => hf.applyChatTemplate(messages)).toThrow(/no chat template/);
  });
});

const GPT2 = 'tokenizers/gpt2';
const haveGpt2 = haveAssets(`${GPT2}/vocab.json`, `${GPT2}/merges.txt`);

describe.skipIf(!haveGpt2)(`HF byte-level BPE (GPT-2 vocab.json + merges.txt)${skipNote(haveGpt2)}`, () => {
  // The standard GPT-2 tokenizer.json, assembled in the test from the two vocabulary files.
  const tokenizerJson = haveGpt2
    ? {
        version: '1.0',
        added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
        model: {
          type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
          vocab: JSON.parse(readFileSync(asset(`${GPT2}/vocab.json`), 'utf8')),
          merges: readFileSync(asset(`${GPT2}/merges.txt`), 'utf8').split('\n').filter((l) => l && !l.startsWith('#version')),
        },
      }
    : {};
  const tok = haveGpt2 ? new HfTokenizer(tokenizerJson, { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', add_bos_token: false }, { source: 'gpt2' }) : null!;

  it('encodes with the well-known GPT-2 ids and no BOS by default', () => {
    expect({ vocab: tok.vocabSize, bos: tok.bosId, eos: tok.eosId, addBos: tok.addBosByDefault }).toEqual({ vocab: 50257, bos: 50256, eos: 50256, addBos: false });
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode('Hello world', { addEos: true })).toEqual([15496, 995, 50256]);
    expect(tok.idToToken(995)).toBe('Ġworld');
    expect(tok.decode([15496, 995])).toBe('Hello world');
  });

  it('streams byte-level tokens, holding back split characters', () => {
    const text = 'naïve 🦙 text';
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    expect(streamAll(tok, ids).join('')).toBe(text);
    const d = tok.streamDecoder();
    const outs = ids.map((id) => d.push(id));
    // The llama emoji spans several byte-level tokens; no partial character is ever emitted.
    expect(outs.some((o) => o.includes('\ufffd'))).toBe(false);
    expect(outs.filter((o) => o === '').length).toBeGreaterThan(0);
  });
});

describe('loadTokenizer errors', () => {
  it('names the path and what was expected', async () => {
    const dir = tempDir();
    await expect(loadTokenizer(dir)).rejects.toThrow(/folder has neither tokenizer\.json \(Hugging Face\) nor tokenizer\.bin \(llama2\.c\)/);
    await expect(loadTokenizer(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: no such file or folder/);
    writeFileSync(join(dir, 'tokenizer.model'), 'x');
    await expect(loadTokenizer(join(dir, 'tokenizer.model'))).rejects.toThrow(/sentencepiece \.model files are not read/);
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json: not valid JSON/);
    writeFileSync(join(dir, 'tokenizer.json'), '[]');
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json: tokenizer\.json must be a JSON object/);
  });
});
