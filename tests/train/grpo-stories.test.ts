// GRPO with LoRA on a real model: stories260K, a reward module that counts a word the model rarely
// writes ("cat" after "Lily saw a" / "Tom found a"), cpu backend. Within a few dozen steps the
// mean reward rises well above where it started; the metrics carry TRL's names.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining } from '../../llm/train/run.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const MODEL = 'models/stories260K-hf';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-grpo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!haveAssets(MODEL))('GRPO on stories260K with a rare-word reward', () => {
  it('raises the mean reward within a few dozen steps (LoRA, cpu)', async () => {
    const data = join(tmp, 'prompts.jsonl');
    writeFileSync(data, ['Lily saw a', 'Tom found a'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    const reward = join(tmp, 'cat_count.mjs');
    writeFileSync(reward, 'export default ({ completions }) => completions.map((c) => (c.match(/\\bcat/gi) ?? []).length);\n');
    const tok = await loadTokenizer(asset(MODEL));
    const { model } = await loadLlama(asset(MODEL), { backend: createCpuBackend() });
    const out = join(tmp, 'run');
    const t0 = performance.now();
    const r = await runTraining(model, tok, {
      method: 'grpo', data, rewardFuncs: [reward], grpo: { numGenerations: 8, maxCompletionLength: 6 },
      maxSteps: 12, batchSize: 8, learningRate: 1e-2, seed: 0, lora: { r: 8, alpha: 16, targets: ['all-linear'] }, outputDir: out, logCompletions: true,
    });
    const seconds = (performance.now() - t0) / 1000;
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const rewards = r.records.map((x) => x.reward as number);
    const first = mean(rewards.slice(0, 3)), last = mean(rewards.slice(-3));
    console.log(`GRPO stories260K: reward ${first.toFixed(3)} → ${last.toFixed(3)} in ${r.records.length} steps, ${seconds.toFixed(1)} s`);
    expect(r.records.length).toBe(12);
    expect(last).toBeGreaterThan(first + 0.5);
    for (const k of ['reward', 'reward_std', 'rewards/cat_count/mean', 'rewards/cat_count/std', 'frac_reward_zero_std', 'entropy',
      'clip_ratio/low_mean', 'clip_ratio/high_mean', 'clip_ratio/region_mean', 'clip_ratio/low_min', 'clip_ratio/high_max',
      'completions/mean_length', 'completions/clipped_ratio', 'completions/mean_terminated_length', 'num_tokens']) {
      expect(r.records[0], k).toHaveProperty(k);
    }
    const logged = readFileSync(join(out, 'completions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(logged.length).toBe(12 * 8);
    expect(Object.keys(logged[0]).sort()).toEqual(['advantage', 'completion', 'prompt', 'rewards', 'step']);
    model.dispose();
  }, 120_000);

  it('a run killed mid-rollout (μ = 2, β > 0, accumulation, dropout) resumes to the same adapter as an uninterrupted one', async () => {
    const data = join(tmp, 'few.jsonl');
    writeFileSync(data, ['Lily saw a', 'Tom found a', 'One day, a', 'The sun was'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    const tok = await loadTokenizer(asset(MODEL));
    const run = async (dir: string, hooks = {}, resume = false) => {
      const { model } = await loadLlama(asset(MODEL), { backend: createCpuBackend() });
      const r = await runTraining(model, tok, {
        method: 'rlvr', data, rewardFuncs: ['soft_overlong'], softPunishCache: 3,
        grpo: { numGenerations: 4, maxCompletionLength: 4, numIterations: 2, beta: 0.04, lossType: 'grpo', temperature: 0.9, topK: 40 },
        maxSteps: 3, batchSize: 4, gradAccum: 2, learningRate: 1e-2, seed: 5, lora: { r: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] },
        saveEvery: 1, outputDir: dir, resume,
      }, hooks);
      const values: number[] = [];
      for (const l of r.lora!.values()) values.push(...await l.lora_A.data(), ...await l.lora_B.data());
      model.dispose();
      return { r, values };
    };
    const full = await run(join(tmp, 'full'));
    expect(full.r.records[0].kl).toBe(0); // the first step's policy is the reference
    const killed = join(tmp, 'killed');
    // Step 2 reuses step 1's rollout (μ = 2): the checkpoint after step 1 holds a half-used buffer.
    await expect(run(killed, { onStep: (r: { step: number }) => { if (r.step === 2) throw new Error('killed'); } })).rejects.toThrow('killed');
    const resumed = await run(killed, {}, true);
    expect(resumed.r.records[0].step).toBe(2);
    expect(resumed.values).toEqual(full.values);
  }, 120_000);

  it('says what is wrong with the settings', async () => {
    const tok = await loadTokenizer(asset(MODEL));
    const { model } = await loadLlama(asset(MODEL), { backend: createCpuBackend() });
    const data = join(tmp, 'bad.jsonl');
    writeFileSync(data, JSON.stringify({ prompt: 'Lily saw a' }) + '\n');
    const base = { data, maxSteps: 1, learningRate: 1e-3, lora: null };
    await expect(runTraining(model, tok, { ...base, method: 'rlvr', batchSize: 8 })).rejects.toThrow(/--method rlvr needs at least one verifier in --reward-funcs/);
    await expect(runTraining(model, tok, { ...base, method: 'grpo', rewardFuncs: ['accuracy'], batchSize: 6, grpo: { numGenerations: 4 } }))
      .rejects.toThrow(/--batch-size 6 × --grad-accum 1 = 6 completions per generation batch is not a multiple of --num-generations 4/);
    await expect(runTraining(model, tok, { ...base, method: 'grpo', rewardFuncs: ['accuracy'], batchSize: 4, grpo: { numGenerations: 1 } }))
      .rejects.toThrow(/--num-generations 1: GRPO needs at least 2/);
    model.dispose();
  });
});
