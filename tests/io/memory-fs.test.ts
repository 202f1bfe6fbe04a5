// The toolkit on an installed file system (what the web app's worker does): the same LoRA SFT run
// with model, data, metrics and checkpoints in a MemoryFileSystem writes the same adapter as on
// disk; a stopped run resumes from its in-memory checkpoint to that adapter; a paused onStep holds
// the next step back. Plus the MemoryFileSystem's own semantics.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { MemoryFileSystem } from '../../llm/io/memory-fs.ts';
import { setFileSystem } from '../../llm/io/node-fs.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining, type TrainSettings } from '../../llm/train/run.ts';
import { asset, haveAssets, skipNote } from './shared-assets.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(MODEL, DATA);

afterEach(() => setFileSystem(null));

describe('MemoryFileSystem', () => {
  it('makes folders, lists, renames folders, removes, appends and reads ranges', async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdir('/a/b');
    await fs.writeFile('/a/b/x.txt', 'hello');
    await fs.appendFile('/a/b/x.txt', ' world');
    expect(new TextDecoder().decode(await fs.readFile('/a/b/x.txt'))).toBe('hello world');
    expect(await fs.readRange('/a/b/x.txt', 6, 100)).toEqual(new TextEncoder().encode('world'));
    expect(await fs.readdir('/a')).toEqual(['b']);
    await fs.rename('/a/b', '/a/c');
    expect(await fs.stat('/a/b')).toBeNull();
    expect(await fs.stat('/a/c/x.txt')).toEqual({ kind: 'file', size: 11 });
    await expect(fs.writeFile('/nowhere/y', 'z')).rejects.toThrow('/nowhere/y: the folder does not exist');
    await fs.rm('/a');
    expect(await fs.stat('/a/c')).toBeNull();
    expect(await fs.readdir('/')).toEqual([]);
    fs.put('/blob/f.bin', new Blob([new Uint8Array([1, 2, 3, 4])]));
    expect(await fs.readRange('/blob/f.bin', 1, 2)).toEqual(new Uint8Array([2, 3]));
  });
});

describe(`the trainer on an installed file system${skipNote(ok)}`, () => {
  const settings = (data: string, outputDir: string): TrainSettings => ({
    data, maxSteps: 2, batchSize: 1, learningRate: 3e-3, schedule: 'constant', seed: 3, maxLength: 128,
    lora: { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'] }, saveEvery: 1, outputDir,
  });

  async function train(modelDir: string, data: string, out: string, extra: Partial<TrainSettings> = {}, hooks = {}) {
    const backend = createCpuBackend();
    const tok = await loadTokenizer(`${modelDir}/tokenizer.json`);
    const { model } = await loadLlama(modelDir, { backend });
    const r = await runTraining(model, tok, { ...settings(data, out), ...extra }, hooks);
    const values: number[] = [];
    for (const l of r.lora!.values()) values.push(...(await l.lora_A.data()), ...(await l.lora_B.data()));
    model.dispose();
    backend.destroy();
    return { values, steps: r.records.map((x) => x.step) };
  }

  function memoryCopy(): MemoryFileSystem {
    const fs = new MemoryFileSystem();
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) fs.put(`/model/${f}`, readFileSync(asset(`${MODEL}/${f}`)));
    // As a Blob: the browser hands the worker picked File objects.
    fs.put('/data/alpaca_tiny.json', new Blob([readFileSync(asset(DATA))]));
    return fs;
  }

  it.skipIf(!ok)('writes the same adapter as on disk, and a stopped run resumes to it', { timeout: 60_000 }, async () => {
    const disk = await train(asset(MODEL), asset(DATA), '');
    const fs = memoryCopy();
    setFileSystem(fs);
    const mem = await train('/model', '/data/alpaca_tiny.json', '/run');
    expect(mem.values).toEqual(disk.values);
    expect(await fs.readdir('/run/checkpoints')).toEqual(['step-0000001', 'step-0000002']);
    const metrics = new TextDecoder().decode(await fs.readFile('/run/metrics.jsonl')).trim().split('\n');
    expect(metrics.map((l) => JSON.parse(l).step)).toEqual([1, 2]);

    await fs.rm('/run');
    const stop = new AbortController();
    const stopped = await train('/model', '/data/alpaca_tiny.json', '/run', {}, { onStep: (r: { step: number }) => { if (r.step === 1) stop.abort(); }, signal: stop.signal });
    expect(stopped.steps).toEqual([1]);
    const resumed = await train('/model', '/data/alpaca_tiny.json', '/run', { resume: true });
    expect(resumed.steps).toEqual([2]);
    expect(resumed.values).toEqual(disk.values);
  });

  it.skipIf(!ok)('waits for an onStep that returns a promise before the next step', { timeout: 30_000 }, async () => {
    setFileSystem(memoryCopy());
    const events: string[] = [];
    await train('/model', '/data/alpaca_tiny.json', '', { maxSteps: 2 }, {
      onStep: async (r: { step: number }) => {
        events.push(`step ${r.step}`);
        await new Promise((res) => setTimeout(res, 30));
        events.push(`resumed after ${r.step}`);
      },
    });
    expect(events).toEqual(['step 1', 'resumed after 1', 'step 2', 'resumed after 2']);
  });
});
