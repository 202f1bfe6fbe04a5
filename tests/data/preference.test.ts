// Preference data: TRL's implicit-prompt split on hand-derived strings, every row format with its
// errors (file:line: field), tokenization checked against independent encodings (hand-written
// ChatML transcripts), the real hh-rlhf file, and the loaders.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../llm/data/errors.ts';
import { readDataFile } from '../../llm/data/files.ts';
import { RowError } from '../../llm/data/formats.ts';
import { parseJsonl } from '../../llm/data/jsonl.ts';
import {
  buildKtoDataset,
  buildPreferenceDataset,
  extractPrompt,
  ktoBatchIterator,
  loadKtoSplits,
  loadPreferenceSplits,
  preferenceBatchIterator,
  validatePreferenceRow,
  type PreferenceDatasetOptions,
} from '../../llm/data/preference/index.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import type { Tokenizer } from '../../llm/tokenizers/tokenizer.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const STORIES = 'models/stories260K-hf/tokenizer.json';
const HH = 'data/hh-rlhf/harmless-base.test.jsonl.gz';
const HH_TINY = 'data/torchtune/hh_rlhf_tiny.json';
const ok = haveAssets(STORIES, HH, HH_TINY);

const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

describe("implicit prompt (TRL's extract_prompt)", () => {
  it('splits hh-rlhf dialogues after "Assistant:", the space going with the answers', () => {
    const chosen = '\n\nHuman: Can you help?\n\nAssistant: Yes, I can.';
    const rejected = '\n\nHuman: Can you help?\n\nAssistant: No.';
    expect(extractPrompt(chosen, rejected)).toEqual({ prompt: '\n\nHuman: Can you help?\n\nAssistant:', chosen: ' Yes, I can.', rejected: ' No.' });
  });

  it('splits inside a shared first word, as TRL does', () => {
    expect(extractPrompt('A: I think so', 'A: I don\'t')).toEqual({ prompt: 'A: I', chosen: ' think so', rejected: " don't" });
    expect(extractPrompt('ab', 'ac')).toEqual({ prompt: 'a', chosen: 'b', rejected: 'c' });
  });

  it("keeps Python's loop-variable quirk when one side is a prefix of the other", () => {
    // range(4) runs out without a difference: idx = 3, so "x" goes to both completions.
    expect(extractPrompt('Q: x', 'Q: x more')).toEqual({ prompt: 'Q: ', chosen: 'x', rejected: 'x more' });
  });

  it('indexes by code point, so an emoji is never split', () => {
    expect(extractPrompt('x😀a', 'x😀b')).toEqual({ prompt: 'x😀', chosen: 'a', rejected: 'b' });
  });

  it('splits message lists at the first differing message', () => {
    const q = user('Q?');
    expect(validatePreferenceRow({ chosen: [q, assistant('A1')], rejected: [q, assistant('A2')] })).toEqual({
      format: 'chosen-rejected',
      conversational: true,
      prompt: [q],
      chosen: [assistant('A1')],
      rejected: [assistant('A2')],
    });
    const turns = [q, assistant('a'), user('more?')];
    const split = validatePreferenceRow({ chosen: [...turns, assistant('yes')], rejected: [...turns, assistant('no')] });
    expect(split.prompt).toEqual(turns);
  });

  it('refuses pairs that prefer nothing', () => {
    expect(() => extractPrompt('same', 'same')).toThrow(RowError);
    expect(() => extractPrompt('same', 'same')).toThrow(/identical to chosen/);
  });
});

describe('row formats', () => {
  it('recognises every format and normalises it', () => {
    expect(validatePreferenceRow({ prompt: 'P', chosen: ' c', rejected: ' r' })).toEqual({ format: 'prompt-chosen-rejected', conversational: false, prompt: 'P', chosen: ' c', rejected: ' r' });
    expect(validatePreferenceRow({ prompt: [user('Q')], chosen: [assistant('c')], rejected: 'r' })).toEqual({
      format: 'prompt-chosen-rejected',
      conversational: true,
      prompt: [user('Q')],
      chosen: [assistant('c')],
      rejected: [assistant('r')],
    });
    expect(
      validatePreferenceRow({ input: { messages: [user('Q')] }, preferred_output: [assistant('c')], non_preferred_output: [assistant('r')] }),
    ).toEqual({ format: 'openai-dpo', conversational: true, prompt: [user('Q')], chosen: [assistant('c')], rejected: [assistant('r')] });
  });

  const cases: [string, unknown, string][] = [
    ['missing rejected', { prompt: 'p', chosen: 'c' }, 'prefs.jsonl:1: rejected: missing field'],
    ['non-string chosen', { prompt: 'p', chosen: 3, rejected: 'r' }, 'prefs.jsonl:1: chosen: must be a string, got a number'],
    ['list completion with a string prompt', { prompt: 'p', chosen: [assistant('c')], rejected: 'r' }, 'prefs.jsonl:1: chosen: must be a string when prompt is a string'],
    ['empty chosen', { prompt: 'p', chosen: '  ', rejected: 'r' }, 'prefs.jsonl:1: chosen: empty chosen'],
    ['unknown role', { prompt: [user('q')], chosen: [{ role: 'bot', content: 'c' }], rejected: [assistant('r')] }, 'prefs.jsonl:1: chosen[0].role: unknown role "bot"'],
    ['empty assistant turn', { chosen: [user('q'), assistant('')], rejected: [user('q'), assistant('r')] }, 'prefs.jsonl:1: chosen[1].content: empty assistant message'],
    ['mixed implicit pair', { chosen: 'a', rejected: [assistant('r')] }, 'prefs.jsonl:1: rejected: must be a string like chosen, got an array'],
    ['openai without messages', { input: {}, preferred_output: [assistant('c')], non_preferred_output: [assistant('r')] }, 'prefs.jsonl:1: input.messages: missing field'],
    ['openai content list', { input: { messages: [user('q')] }, preferred_output: [{ role: 'assistant', content: [] }], non_preferred_output: [assistant('r')] }, 'prefs.jsonl:1: preferred_output[0].content: must be a string, got an array'],
    ['KTO row', { prompt: 'p', completion: 'c', label: true }, 'prefs.jsonl:1: an unpaired {"prompt", "completion", "label"} row is KTO data'],
    ['no format', { question: 'q', answer: 'a' }, 'prefs.jsonl:1: row matches no preference format (it has "question", "answer"'],
  ];
  for (const [name, row, message] of cases) {
    it(`names file, line and field: ${name}`, () => {
      let err: unknown;
      try {
        buildPreferenceDataset(parseJsonl(JSON.stringify(row), 'prefs.jsonl'), null as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DataError);
      expect((err as Error).message.startsWith(message)).toBe(true);
    });
  }

  it('reports KTO label errors and bad JSON at their lines', () => {
    const text = ['{"prompt": "p", "completion": "c", "label": "yes"}', '{"prompt": "p", "completion": "c", "label": 1}', '{not json'].join('\n');
    const ds = buildKtoDataset(parseJsonl(text, 'kto.jsonl'), null as never, { skipInvalid: true });
    expect(ds.stats.invalid).toBe(3);
    expect(ds.stats.errors.map((e) => [e.line, e.field])).toEqual([
      [1, 'label'],
      [2, 'label'],
      [3, undefined],
    ]);
    expect(ds.stats.errors[0].message).toBe('kto.jsonl:1: label: must be true (desirable) or false (undesirable), got "yes"');
    expect(ds.stats.errors[2].message).toMatch(/^kto\.jsonl:3: not valid JSON/);
  });

  it('names the column as it is in the file when columns are mapped', () => {
    expect(() =>
      buildPreferenceDataset(parseJsonl(JSON.stringify({ question: 'q', response_j: 5, response_k: 'r' }), 'se.jsonl'), null as never, {
        columns: { prompt: 'question', chosen: 'response_j', rejected: 'response_k' },
      }),
    ).toThrow('se.jsonl:1: response_j: must be a string, got a number');
  });
});

describe.skipIf(!ok)(`tokenization, truncation and real data${skipNote(ok)}`, async () => {
  const tok: Tokenizer = ok ? await loadTokenizer(asset(STORIES)) : null!;
  const one = (row: unknown, options: PreferenceDatasetOptions = {}) => {
    const ds = buildPreferenceDataset(parseJsonl(JSON.stringify(row), 'row.jsonl'), tok, options);
    expect(ds.stats.examples).toBe(1);
    return { ...ds.examples[0], stats: ds.stats };
  };

  it('plain text: the prompt with BOS, each completion the rest of prompt + completion, then EOS', () => {
    const prompt = 'Lily saw a dog.\nQuestion: what did she see?\nAnswer:';
    const ex = one({ prompt, chosen: ' A dog.', rejected: ' A big cat.' });
    const promptIds = tok.encode(prompt);
    expect(promptIds[0]).toBe(tok.bosId);
    expect(ex.prompt).toEqual(promptIds);
    expect(ex.chosen).toEqual([...tok.encode(prompt + ' A dog.').slice(promptIds.length), tok.eosId]);
    expect(ex.rejected).toEqual([...tok.encode(prompt + ' A big cat.').slice(promptIds.length), tok.eosId]);
    expect(tok.decode(ex.chosen, { skipSpecialTokens: true }).trim()).toBe('A dog.');
  });

  it('does not add a second EOS to a completion that ends with the EOS text', () => {
    const ex = one({ prompt: 'Hi', chosen: ' there</s>', rejected: ' you' });
    expect(ex.chosen.filter((t) => t === tok.eosId)).toHaveLength(1);
    expect(ex.chosen.at(-1)).toBe(tok.eosId);
  });

  it('conversations: prompt rendered with the generation prompt, completion = the rest (ChatML written out by hand)', () => {
    const row = { prompt: [user('What is red?')], chosen: [assistant('An apple.')], rejected: [assistant('The sky.')] };
    const ex = one(row, { chatTemplate: 'chatml' });
    const promptText = '<s><|im_start|>user\nWhat is red?<|im_end|>\n<|im_start|>assistant\n';
    const enc = (t: string) => tok.encode(t, { addBos: false });
    expect(ex.prompt).toEqual(enc(promptText));
    // The built-in ChatML fallback appends EOS (its <|im_end|> is plain text in this vocabulary).
    expect(ex.chosen).toEqual([...enc(promptText + 'An apple.<|im_end|>\n').slice(ex.prompt.length), tok.eosId]);
    expect(ex.rejected).toEqual([...enc(promptText + 'The sky.<|im_end|>\n').slice(ex.prompt.length), tok.eosId]);
    // OpenAI's format and the implicit-prompt form of the same conversation give the same ids.
    const openai = one({ input: { messages: row.prompt }, preferred_output: row.chosen, non_preferred_output: row.rejected }, { chatTemplate: 'chatml' });
    const implicit = one({ chosen: [...row.prompt, ...row.chosen], rejected: [...row.prompt, ...row.rejected] }, { chatTemplate: 'chatml' });
    for (const other of [openai, implicit]) expect([other.prompt, other.chosen, other.rejected]).toEqual([ex.prompt, ex.chosen, ex.rejected]);
  });

  it('refuses conversations without a chat template, whatever skipInvalid says', () => {
    const rows = parseJsonl(JSON.stringify({ prompt: [user('q')], chosen: 'c', rejected: 'r' }), 'chat.jsonl');
    expect(() => buildPreferenceDataset(rows, tok, { skipInvalid: true })).toThrow(/has no chat template, needed for the conversation at chat\.jsonl:1/);
  });

  it('drops pairs whose prompt fills maxLength (keep_start) and counts cut rows', () => {
    const long = 'Once upon a time there was a little girl named Lily who liked to play outside.';
    const rows = parseJsonl([{ prompt: long, chosen: ' Yes.', rejected: ' No.' }, { prompt: 'Hi', chosen: ' ' + long, rejected: ' No.' }].map((r) => JSON.stringify(r)).join('\n'), 'len.jsonl');
    const promptLen = tok.encode(long).length;
    const ds = buildPreferenceDataset(rows, tok, { maxLength: promptLen });
    expect(ds.stats).toMatchObject({ examples: 1, droppedTooLong: 1, truncated: 1 });
    expect(ds.examples[0].line).toBe(2);
    const b = preferenceBatchIterator(ds.examples, tok, { batchSize: 1, shuffle: false }).next()!;
    expect(b.shape).toEqual([2, promptLen]);
    // keep_end keeps the first pair, cut from the left.
    const end = buildPreferenceDataset(rows, tok, { maxLength: promptLen, truncationMode: 'keep_end' });
    expect(end.stats.examples).toBe(2);
    const eb = preferenceBatchIterator(end.examples, tok, { batchSize: 2, shuffle: false }).next()!;
    expect(eb.inputIds[0].at(-1)).toBe(tok.eosId);
    expect(eb.attentionMask[0].every((m) => m === 1)).toBe(true);
  });

  it('hh-rlhf (real file): the prompt ends with the last "Assistant:", completions follow, for the first rows', async () => {
    const records = (await readDataFile(asset(HH))).slice(0, 8);
    const ds = buildPreferenceDataset(records, tok);
    expect(ds.stats).toMatchObject({ rows: 8, examples: 8, invalid: 0 });
    let checked = 0;
    for (const [i, ex] of ds.examples.entries()) {
      const raw = records[i].value as { chosen: string; rejected: string };
      const cut = raw.chosen.lastIndexOf('\n\nAssistant:') + '\n\nAssistant:'.length;
      expect(raw.rejected.slice(0, cut)).toBe(raw.chosen.slice(0, cut));
      // Where the two answers differ at their first character, TRL's split is exactly at that marker.
      if (raw.chosen[cut + 1] === raw.rejected[cut + 1]) continue;
      const prompt = raw.chosen.slice(0, cut);
      expect(ex.prompt).toEqual(tok.encode(prompt));
      expect(ex.chosen).toEqual([...tok.encode(raw.chosen).slice(ex.prompt.length), tok.eosId]);
      expect(ex.rejected).toEqual([...tok.encode(raw.rejected).slice(ex.prompt.length), tok.eosId]);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    expect(ex0Text(ds.examples[0].prompt)).toMatch(/\n\nAssistant:$/);
  });
  const ex0Text = (ids: number[]) => tok.decode(ids, { skipSpecialTokens: true });

  it('torchtune hh_rlhf_tiny (conversational, implicit prompt) as pairs and as KTO examples', async () => {
    const pairs = await loadPreferenceSplits(asset(HH_TINY), tok, { chatTemplate: 'chatml' });
    expect(pairs.train.stats).toMatchObject({ examples: 1, formats: { 'chosen-rejected': 1 } });
    expect(ex0Text(pairs.train.examples[0].prompt)).toContain('What do I do when I have a hole in my trousers?');
    expect(ex0Text(pairs.train.examples[0].chosen)).toContain('Fix the hole.');
    const k = await loadKtoSplits(asset(HH_TINY), tok, { chatTemplate: 'chatml' });
    expect(k.train.stats).toMatchObject({ examples: 2, desirable: 1, undesirable: 1 });
    expect(k.train.examples.map((e) => e.label)).toEqual([true, false]);
    expect(k.train.examples[0].prompt).toEqual(pairs.train.examples[0].prompt);
    expect(k.train.examples[1].completion).toEqual(pairs.train.examples[0].rejected);
    const b = ktoBatchIterator(k.train.examples, tok, { batchSize: 2, shuffle: false }).next()!;
    expect(b.desirable).toEqual([true, false]);
    expect(b.kl.inputIds[0].slice(0, b.kl.attentionMask[0].reduce((a, m) => a + m, 0))).toEqual([...k.train.examples[0].prompt, ...k.train.examples[1].completion]);
  });

  it('loads a folder with train and valid files, and holds out valFraction otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgrad-pref-'));
    const rows = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `Q${i}:`, chosen: ' yes', rejected: ' no' })).join('\n');
    writeFileSync(join(dir, 'train.jsonl'), rows(10));
    writeFileSync(join(dir, 'valid.jsonl'), rows(3));
    const s = await loadPreferenceSplits(dir, tok);
    expect([s.train.stats.examples, s.val?.stats.examples]).toEqual([10, 3]);
    const f = await loadPreferenceSplits(join(dir, 'train.jsonl'), tok, { valFraction: 0.2, seed: 1 });
    expect([f.train.stats.examples, f.val?.stats.examples]).toEqual([8, 2]);
    expect(f.val!.examples.every((e) => e.source.endsWith('train.jsonl'))).toBe(true);
  });
});
