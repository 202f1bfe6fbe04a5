// Real files from ../shared/assets and the pyarrow-written Parquet fixtures: the loaders must read
// them with zero errors, and what they read is checked against a second, independent reading
// (node:zlib, a JSON copy of the same CSV, the dataset's own pre-rendered text column).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { alpacaPrompt } from '../../llm/data/alpaca.ts';
import { buildSftDataset } from '../../llm/data/dataset.ts';
import { readDataFile } from '../../llm/data/files.ts';
import { sftBatchIterator } from '../../llm/data/iterator.ts';
import { IGNORE_INDEX } from '../../llm/data/labels.ts';
import { loadSftDataset, loadSftSplits } from '../../llm/data/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const LLAMA2 = 'tokenizers/llama2/tokenizer.json';
const STORIES = 'models/stories260K-hf/tokenizer.json';
const ALPACA = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(LLAMA2, STORIES, ALPACA, 'data/hh-rlhf/harmless-base.test.jsonl.gz', 'data/refusal_direction/raw/advbench.csv', 'data/gsm8k/test.jsonl', 'data/alpaca/seed_tasks.jsonl', 'data/torchtune/hh_rlhf_tiny.json');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!ok)(`real datasets${skipNote(ok)}`, async () => {
  const llama = ok ? await loadTokenizer(asset(LLAMA2)) : null!;
  const stories = ok ? await loadTokenizer(asset(STORIES)) : null!;

  it('alpaca_tiny.json loads with zero errors; our Alpaca prompt + output is its own "text" column', async () => {
    const ds = await loadSftDataset(asset(ALPACA), llama);
    expect(ds.stats).toMatchObject({ rows: 100, examples: 100, invalid: 0, truncated: 0, boundaryMismatches: 0 });
    expect(ds.stats.formats.alpaca).toBe(100);
    const rows = JSON.parse(readFileSync(asset(ALPACA), 'utf8')) as { instruction: string; input: string; output: string; text: string }[];
    rows.forEach((r, i) => {
      const prompt = alpacaPrompt(r.instruction, r.input);
      expect(prompt + r.output).toBe(r.text);
      const ex = ds.examples[i];
      expect(ex.row).toBe(i + 1);
      const promptLength = llama.encode(prompt).length;
      expect(ex.inputIds).toEqual([...llama.encode(r.text), llama.eosId]);
      expect(ex.labels.slice(0, promptLength).every((l) => l === IGNORE_INDEX)).toBe(true);
      expect(ex.labels.slice(promptLength)).toEqual(ex.inputIds.slice(promptLength));
    });
  });

  it('alpaca_tiny through sftBatchIterator: packed rows of 256 and padded batches', async () => {
    const ds = await loadSftDataset(asset(ALPACA), llama, { maxLength: 256 });
    const packed = [...sftBatchIterator(ds.examples, llama, { batchSize: 4, packing: true, seqLength: 256, seed: 1 })];
    expect(packed.reduce((n, b) => n + b.examples, 0)).toBe(100);
    for (const b of packed) {
      expect(b.shape[1]).toBe(256);
      for (let r = 0; r < b.shape[0]; r++) {
        const seg = b.segmentIds![r];
        for (let t = 0; t < 256; t++) {
          expect(b.attentionMask[r][t]).toBe(seg[t] > 0 ? 1 : 0);
          // Positions restart exactly where a new example starts.
          if (seg[t] > 0) expect(b.positionIds[r][t]).toBe(t === 0 || seg[t] !== seg[t - 1] ? 0 : b.positionIds[r][t - 1] + 1);
        }
      }
    }
    // Every token trained when packed is one trained in its own example, minus each example's first.
    const lossTokens = ds.examples.reduce((n, e) => n + e.labels.slice(1).filter((l) => l !== IGNORE_INDEX).length, 0);
    expect(packed.reduce((n, b) => n + b.lossTokens, 0)).toBe(lossTokens);
    const padded = [...sftBatchIterator(ds.examples, llama, { batchSize: 8, padToMultipleOf: 8 })];
    expect(padded).toHaveLength(13);
    for (const b of padded) expect(b.shape[1] % 8).toBe(0);
    expect(padded.reduce((n, b) => n + b.lossTokens, 0)).toBe(lossTokens);
  });

  it('a validation split of alpaca_tiny by fraction is deterministic and disjoint', async () => {
    const a = await loadSftSplits(asset(ALPACA), stories, { valFraction: 0.1, seed: 5 });
    const b = await loadSftSplits(asset(ALPACA), stories, { valFraction: 0.1, seed: 5 });
    expect([a.train.examples.length, a.val!.examples.length]).toEqual([90, 10]);
    const rowsOf = (d: { examples: { row: number }[] }): number[] => d.examples.map((e) => e.row);
    expect(rowsOf(a.val!)).toEqual(rowsOf(b.val!));
    expect(rowsOf(a.train).filter((r) => rowsOf(a.val!).includes(r))).toEqual([]);
  });

  it('harmless-base.test.jsonl.gz: the same rows as node:zlib + JSON.parse, loadable as text', async () => {
    const path = asset('data/hh-rlhf/harmless-base.test.jsonl.gz');
    const recs = await readDataFile(path);
    const lines = gunzipSync(readFileSync(path)).toString('utf8').split('\n').filter((l) => l.trim() !== '');
    expect(recs.length).toBe(lines.length);
    expect(recs.map((r) => r.value)).toEqual(lines.map((l) => JSON.parse(l)));
    // Tokenizing all 2312 long dialogues adds seconds and nothing new: the first 300 stand in.
    const ds = buildSftDataset(recs.slice(0, 300), stories, { columns: { text: 'chosen' }, maxLength: 256 });
    expect([ds.stats.invalid, ds.stats.examples, ds.stats.formats.text]).toEqual([0, 300, 300]);
  });

  it('advbench.csv (quoted fields with commas) reads as its JSON copy does', async () => {
    const recs = await readDataFile(asset('data/refusal_direction/raw/advbench.csv'));
    const json = JSON.parse(readFileSync(asset('data/refusal_direction/processed/advbench.json'), 'utf8')) as { instruction: string }[];
    expect(recs.every((r) => r.parseError === undefined)).toBe(true);
    expect(recs.map((r) => (r.value as { goal: string }).goal)).toEqual(json.map((j) => j.instruction));
    expect(Object.keys(recs[0].value as object)).toEqual(['goal', 'target']);
    expect(recs.some((r) => (r.value as { goal: string }).goal.includes(','))).toBe(true);
  });

  it('GSM8K maps question/answer onto prompt/completion with zero errors', async () => {
    const ds = await loadSftDataset(asset('data/gsm8k/test.jsonl'), stories, { columns: { prompt: 'question', completion: 'answer' } });
    expect([ds.stats.rows, ds.stats.invalid, ds.stats.examples]).toEqual([1319, 0, 1319]);
  });

  it('Alpaca seed_tasks.jsonl keeps outputs in "instances": every row is reported as missing "output"', async () => {
    const ds = await loadSftDataset(asset('data/alpaca/seed_tasks.jsonl'), stories, { skipInvalid: true, maxReportedErrors: 3 });
    expect(ds.stats.examples).toBe(0);
    expect(ds.stats.invalid).toBe(ds.stats.rows);
    expect(ds.stats.rows).toBe(175);
    expect(ds.stats.errors.map((e) => e.message)).toEqual([1, 2, 3].map((n) => `${asset('data/alpaca/seed_tasks.jsonl')}:${n}: output: missing field`));
  });

  it('hh_rlhf_tiny.json preference pairs: "chosen" as a conversation', async () => {
    const ds = await loadSftDataset(asset('data/torchtune/hh_rlhf_tiny.json'), stories, { columns: { messages: 'chosen' }, chatTemplate: 'chatml' });
    expect(ds.stats.formats.messages).toBe(1);
    const ex = ds.examples[0];
    expect(stories.decode(ex.inputIds.filter((_, i) => ex.labels[i] !== IGNORE_INDEX), { skipSpecialTokens: true })).toBe('Fix the hole.<|im_end|>\n');
  });

  it('an error in a mapped column names the column as the file has it', () => {
    const recs = [{ source: 'q.jsonl', row: 1, line: 1, cite: 'line' as const, value: { question: 'q', answer: 3 } }];
    expect(() => buildSftDataset(recs, stories, { columns: { prompt: 'question', completion: 'answer' } })).toThrow(/^q\.jsonl:1: answer: must be a string, got a number$/);
  });

  it('a folder in mlx-lm layout (train.jsonl, valid.jsonl)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgrad-data-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'train.jsonl'), '{"text":"one"}\n{"text":"two"}\n{"text":"three"}\n');
    writeFileSync(join(dir, 'valid.jsonl'), '{"prompt":"a","completion":" b"}\n');
    const s = await loadSftSplits(dir, stories);
    expect([s.train.stats.examples, s.val!.stats.examples, s.val!.examples[0].format]).toEqual([3, 1, 'prompt-completion']);
    expect((await loadSftSplits(join(dir, 'train.jsonl'), stories)).val).toBeNull();
  });
});

// Written by tests/data/fixtures/make_parquet.py with pyarrow (snappy pages, a list<struct> column).
describe.skipIf(!haveAssets(STORIES))(`Parquet (pyarrow-written fixtures)${skipNote(haveAssets(STORIES))}`, async () => {
  const stories = haveAssets(STORIES) ? await loadTokenizer(asset(STORIES)) : null!;

  it('reads nested messages and int64 columns', async () => {
    const recs = await readDataFile(join(FIXTURES, 'messages.parquet'));
    expect(recs.map((r) => [r.row, r.value])).toEqual([
      [1, { messages: [{ role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'Hello! How can I help?' }], id: 7 }],
      [2, { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'Blue.' }], id: 8 }],
    ]);
    const ds = await loadSftDataset(join(FIXTURES, 'messages.parquet'), stories, { chatTemplate: 'chatml' });
    expect(ds.stats.examples).toBe(2);
  });

  it('a null completion is an error naming the file, row and field', async () => {
    const path = join(FIXTURES, 'prompt_completion.parquet');
    await expect(loadSftDataset(path, stories)).rejects.toThrow(`${path} row 3: completion: must be a string, got null`);
    const ds = await loadSftDataset(path, stories, { skipInvalid: true });
    expect([ds.stats.examples, ds.stats.invalid]).toEqual([2, 1]);
  });
});
