// keep_start truncation tokenizes only a prefix of a long row: the kept tokens are exactly those
// of tokenizing the whole row and cutting (two real tokenizers, real text), and a 50 MB row is
// read and truncated in bounded time and memory (it used to take minutes, or crash V8).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSftDataset } from '../../llm/data/dataset.ts';
import { loadSftDataset } from '../../llm/data/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const LLAMA2 = 'tokenizers/llama2/tokenizer.json', STORIES = 'models/stories260K-hf/tokenizer.json', TEXT = 'data/text/tinyshakespeare.txt';
const ok = haveAssets(LLAMA2, STORIES, TEXT);
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-trunc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!ok)(`streaming truncation${skipNote(ok)}`, async () => {
  const toks = ok ? { llama2: await loadTokenizer(asset(LLAMA2)), stories: await loadTokenizer(asset(STORIES)) } : null!;
  const text = ok ? readFileSync(asset(TEXT), 'utf8').slice(0, 12_000) : '';

  it.each(['llama2', 'stories'] as const)('%s: the kept tokens equal the whole row tokenized, then cut', (name) => {
    const tok = toks[name];
    for (const offset of [0, 5001]) {
      const body = text.slice(offset);
      const whole = [tok.encode(body), tok.encode('Q: ' + body)];
      for (const maxLength of [17, 256]) {
        const rows = [
          { source: 't', row: 1, cite: 'row' as const, value: { text: body } },
          { source: 't', row: 2, cite: 'row' as const, value: { prompt: 'Q: ' + body.slice(0, 4), completion: body.slice(4) } },
        ];
        const ds = buildSftDataset(rows, tok, { maxLength });
        expect(ds.stats).toMatchObject({ truncated: 2, examples: 2 });
        expect(ds.examples[0].inputIds).toEqual(whole[0].slice(0, maxLength));
        expect(ds.examples[1].inputIds).toEqual(whole[1].slice(0, maxLength));
      }
    }
  });

  it('a 50 MB row is truncated in bounded time and memory', async () => {
    const file = join(tmp, 'huge.jsonl');
    const row = 'Once upon a time, there was a little girl named Lily. '.repeat(Math.ceil(50e6 / 55));
    writeFileSync(file, JSON.stringify({ text: row }) + '\n' + JSON.stringify({ text: 'A short row.' }) + '\n');
    const rss0 = process.memoryUsage().rss, t0 = performance.now();
    const ds = await loadSftDataset(file, toks.stories, { maxLength: 512 });
    const seconds = (performance.now() - t0) / 1000, grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
    expect(ds.stats).toMatchObject({ rows: 2, examples: 2, truncated: 1 });
    expect(ds.examples[0].inputIds.length).toBe(512);
    // The file, its text and the parsed row (~50 MB each) are what is held; tokenizing it whole took
    // gigabytes. Generous bounds for a busy machine, far below what whole-row tokenization needs.
    expect(grew).toBeLessThan(700);
    expect(seconds).toBeLessThan(20);
  }, 60_000);
});
