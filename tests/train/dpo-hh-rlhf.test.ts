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
import { loadLlama } from '../../engine/models/llama/load.ts';
import { loadTokenizer } from '../../engine/tokenizers/load.ts';
import { runTraining } from '../../engine/train/run.ts';
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
      method: 'dpo', preference: { beta: 0.1 }, data: tmp, maxSteps: 30, batchSize: 8, learningRate: 1e-2, schedule: 'cosine',
      seed: 0, maxLength: 96, maxPromptLength: 48, lora: { r: 8, alpha: 16, targets: ['all-linear'] }, evalEvery: 30, outputDir: out,
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
});
