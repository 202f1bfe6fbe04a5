// `wgrad train` on this engine runs through the local TrainingBackend (validate → start → events →
// results). The same run started through the protocol directly, with the options the flags stand
// for, must give the same metrics.jsonl (timings aside) and byte-identical adapters; the CLI adds
// run.json with the data summary and prints the progress from the backend's events.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/program.ts';
import { createLocalBackend, type JobEvent } from '../../llm/backends/index.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const HF = 'models/stories260K-hf';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-train-local-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let err = '';
beforeEach(() => {
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err += String(s); return true; });
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation((...a) => { err += a.join(' ') + '\n'; });
});
afterEach(() => vi.restoreAllMocks());

const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
  const { tokens_per_second: _t, ...r } = JSON.parse(l); // wall-clock timing
  return r;
});
const bytes = (dir: string, f: string) => readFileSync(join(dir, f));

describe.skipIf(!haveAssets(HF))('wgrad train through the local training backend', () => {
  it('the CLI run equals the same run started through the protocol: metrics, adapter bytes; run.json and progress from events', async () => {
    const data = join(tmp, 'sft.jsonl');
    writeFileSync(data, ['Once upon a time', 'The cat sat', 'Lily went to the park', 'Tom had a red ball'].map((p, i) =>
      JSON.stringify({ prompt: p, completion: ` and it was day ${i}.` })).join('\n') + '\n');
    const viaCli = join(tmp, 'cli');
    const code = await main(['train', '--model', asset(HF), '--data', data, '--output-dir', viaCli, '--backend', 'cpu', '--iters', '3',
      '--batch-size', '2', '--max-length', '24', '--lora-r', '2', '--learning-rate', '1e-2', '--val-fraction', '0.25', '--eval-every', '2', '--log-every', '1']);
    expect(code, err).toBe(0);
    expect(err).toMatch(/sft step 3\/3: loss [\d.]+/);
    expect(err).toMatch(/eval step 2: eval_loss [\d.]+/);
    expect(err).toMatch(/wgrad: 3 steps, final loss [\d.]+, eval loss [\d.]+/);
    const run = JSON.parse(readFileSync(join(viaCli, 'run.json'), 'utf8'));
    expect(run.settings).toMatchObject({ 'max-length': 24, 'lora-r': 2, 'max-steps': 3 });
    expect(run.data_summary.train).toBeTruthy();
    expect(run.ended).toMatchObject({ step: 3 });

    const direct = join(tmp, 'direct');
    const events: JobEvent[] = [];
    const job = await createLocalBackend({ device: 'cpu' }).start({
      method: 'sft', model: asset(HF), data, outputDir: direct,
      options: {
        maxSteps: 3, batchSize: 2, maxLength: 24, learningRate: 1e-2, valFraction: 0.25, evalEvery: 2,
        lora: { r: 2, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj'] },
      },
    }, { onEvent: (e) => events.push(e) });
    expect((await job.done).status).toBe('succeeded');
    expect(metrics(direct)).toEqual(metrics(viaCli));
    for (const f of ['adapter/adapter_model.safetensors', 'adapter-mlx/adapters.safetensors', 'adapter/adapter_config.json']) {
      expect(bytes(direct, f).equals(bytes(viaCli, f)), f).toBe(true);
    }
    expect(existsSync(join(direct, 'run.json'))).toBe(false); // run.json is the CLI's record of its flags
    // The event stream the CLI's progress comes from: a step's progress, then its metrics; evals tagged as such.
    expect(events.filter((e) => e.type === 'progress').map((e) => (e as { step: number }).step)).toEqual([1, 2, 3]);
    expect(events.filter((e) => e.type === 'metrics').map((e) => (e as { phase?: string }).phase)).toEqual(['train', 'train', 'eval', 'train', 'eval']);
    expect(events.some((e) => e.type === 'log' && /^ {2}train: \d+ rows read/.test(e.message))).toBe(true);
  }, 60_000);

  it('model-dependent settings are refused by the backend as usage errors, before the run folder is written', async () => {
    const data = join(tmp, 'sft.jsonl');
    const dir = join(tmp, 'never');
    const base = ['train', '--model', asset(HF), '--data', data, '--output-dir', dir, '--backend', 'cpu', '--iters', '1'];
    expect(await main([...base, '--max-length', '4096'])).toBe(2);
    expect(err).toContain("--max-length 4096 exceeds the model's 512 positions");
    expect(existsSync(join(dir, 'run.json'))).toBe(false);
    err = '';
    expect(await main([...base, '--num-layers', '9'])).toBe(2);
    expect(err).toContain('--num-layers 9: the model has 5 layers');
    err = '';
    // The same folder takes a good run afterwards (the failed attempts left no run behind).
    expect(await main([...base, '--num-layers', '2', '--lora-r', '2'])).toBe(0);
    const peft = JSON.parse(readFileSync(join(dir, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(peft.layers_to_transform).toEqual([3, 4]);
  }, 60_000);
});
