// DPO with LoRA on a real model and real preference data: stories260K and the first 200 pairs of
// Anthropic's hh-rlhf (harmless-base), split at the common prefix as TRL does. Held-out pairs:
// rewards/accuracies (0 at the start: policy = reference) ends above 0.5 and rewards/margins grows.
// cpu backend only: the same run on SwiftShader would take minutes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining } from '../../llm/train/run.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/hh-rlhf/harmless-base.test.jsonl.gz';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-dpo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!haveAssets(MODEL, DATA))('DPO on stories260K with 200 hh-rlhf pairs', () => {
  it('raises held-out rewards/accuracies above 0.5 and rewards/margins above 0', async () => {
    const rows = gunzipSync(readFileSync(asset(DATA))).toString('utf8').split('\n').filter(Boolean);
    writeFileSync(join(tmp, 'train.jsonl'), rows.slice(0, 200).join('\n') + '\n');
    writeFileSync(join(tmp, 'valid.jsonl'), rows.slice(200, 260).join('\n') + '\n');
    const backend = createCpuBackend();
    const tok = await loadTokenizer(asset(MODEL));
    const { model } = await loadLlama(asset(MODEL), { backend });
    const out = join(tmp, 'run');
    const r = await runTraining(model, tok, {
      method: 'dpo', preference: { beta: 0.1 }, data: tmp, maxSteps: 16, batchSize: 8, learningRate: 1.5e-2, schedule: 'cosine',
      seed: 0, maxLength: 96, maxPromptLength: 48, lora: { r: 8, alpha: 16, targets: ['all-linear'] }, evalEvery: 16, outputDir: out,
    });
    const evals = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => 'eval_loss' in m);
    expect(evals.length).toBe(1);
    const first = r.records[0], last = evals[evals.length - 1];
    expect(first['rewards/accuracies']).toBe(0); // step 1 sees policy = reference
    expect(first.loss).toBeCloseTo(Math.LN2, 6);
    expect(last.eval_loss).toBe(r.evalLoss);
    expect(last['eval_rewards/accuracies']).toBeGreaterThan(0.5);
    expect(last['eval_rewards/margins']).toBeGreaterThan(0);
    expect(r.records[r.records.length - 1]['rewards/margins']).toBeGreaterThan(first['rewards/margins']!);
    model.dispose();
  }, 300_000);

  it('a DPO run killed after a checkpoint resumes to the same adapter as an uninterrupted run (precomputed reference)', async () => {
    const rows = gunzipSync(readFileSync(asset(DATA))).toString('utf8').split('\n').filter(Boolean);
    const data = join(tmp, 'small.jsonl');
    writeFileSync(data, rows.slice(300, 316).join('\n') + '\n');
    const tok = await loadTokenizer(asset(MODEL));
    const settings = (dir: string) => ({
      method: 'dpo' as const, data, maxSteps: 5, batchSize: 2, learningRate: 5e-3, seed: 3, maxLength: 48, maxPromptLength: 24,
      precomputeRef: true, lora: { r: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] }, saveEvery: 2, outputDir: dir,
    });
    const run = async (dir: string, hooks = {}, resume = false) => {
      const { model } = await loadLlama(asset(MODEL), { backend: createCpuBackend() });
      const r = await runTraining(model, tok, { ...settings(dir), resume }, hooks);
      const values: number[] = [];
      for (const l of r.lora!.values()) values.push(...await l.lora_A.data(), ...await l.lora_B.data());
      return { r, values };
    };
    const full = await run(join(tmp, 'full'));
    const killed = join(tmp, 'killed');
    await expect(run(killed, { onStep: (r: { step: number }) => { if (r.step === 5) throw new Error('killed'); } })).rejects.toThrow('killed');
    const resumed = await run(killed, {}, true);
    expect(resumed.r.records[0].step).toBe(5);
    expect(resumed.values).toEqual(full.values);
  }, 120_000);
});
