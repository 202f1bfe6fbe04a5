// GRPO evaluation on held-out prompts (TRL's eval in GRPOTrainer): every --eval-every steps the
// held-out prompts get G sampled completions each, scored by the run's reward functions; the
// metrics are logged with TRL's eval_ prefix (eval_reward, eval_rewards/<name>/mean, eval_loss, ...).
// A reward module that records what it scored lets the test recompute eval_reward itself; and the
// evaluation must not disturb training: the adapter equals that of the same run without evaluation.
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
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-grpo-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!haveAssets(MODEL))('GRPO evaluation on held-out prompts', () => {
  it('logs eval_reward and per-function eval rewards equal to the mean over every held-out completion, without changing training', async () => {
    const train = join(tmp, 'train.jsonl'), valid = join(tmp, 'valid.jsonl'), seen = join(tmp, 'seen.jsonl');
    writeFileSync(train, ['Lily saw a', 'Tom found a', 'One day, a', 'The sun was'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    // Three held-out prompts: with 2 prompts per generation batch, the last evaluation chunk is short.
    writeFileSync(valid, ['HELD Ben had a', 'HELD A big dog', 'HELD Mom said'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    // Scores each completion by its length in characters, and appends what it scored to seen.jsonl.
    const reward = join(tmp, 'chars.mjs');
    writeFileSync(reward, `import { appendFileSync } from 'node:fs';
export default ({ prompts, completions, step }) => {
  const scores = completions.map((c) => c.length / 10);
  appendFileSync(${JSON.stringify(seen)}, JSON.stringify({ step, prompts, scores }) + '\\n');
  return scores;
};\n`);
    const tok = await loadTokenizer(asset(MODEL));
    const run = async (out: string, withEval: boolean) => {
      rmSync(seen, { force: true });
      const { model } = await loadLlama(asset(MODEL), { backend: createCpuBackend() });
      const r = await runTraining(model, tok, {
        method: 'grpo', data: train, valid: withEval ? valid : undefined, rewardFuncs: [reward, 'soft_overlong'], softPunishCache: 2,
        grpo: { numGenerations: 2, maxCompletionLength: 5, beta: 0.04 },
        maxSteps: 3, batchSize: 2, gradAccum: 2, learningRate: 1e-2, seed: 3, evalEvery: 2,
        lora: { r: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] }, outputDir: out,
      });
      const adapter: number[] = [];
      for (const l of r.lora!.values()) adapter.push(...await l.lora_A.data(), ...await l.lora_B.data());
      model.dispose();
      const logged = readFileSync(seen, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; prompts: string[]; scores: number[] });
      const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      return { r, adapter, logged, metrics };
    };
    const withEval = await run(join(tmp, 'eval'), true);
    const evals = withEval.metrics.filter((m) => 'eval_loss' in m);
    // Every 2 steps, and once more at the end (step 3).
    expect(evals.map((m) => m.step)).toEqual([2, 3]);
    expect(withEval.r.evalLoss).toBe(evals[1].eval_loss);
    for (const [i, e] of evals.entries()) {
      const calls = withEval.logged.filter((c) => c.prompts.every((p) => p.startsWith('HELD')));
      // Evaluations happen in order: 2 reward calls (chunks of 2 and 1 prompts) per evaluation.
      const mine = calls.slice(2 * i, 2 * i + 2);
      expect(mine.map((c) => c.prompts.length)).toEqual([4, 2]); // G = 2 completions per prompt
      const scores = mine.flatMap((c) => c.scores);
      const mean = scores.reduce((a, x) => a + x, 0) / scores.length;
      expect(e['eval_rewards/chars/mean']).toBeCloseTo(mean, 6);
      expect(e).toHaveProperty('eval_rewards/soft_overlong/mean');
      for (const k of ['eval_reward', 'eval_reward_std', 'eval_kl', 'eval_entropy', 'eval_clip_ratio/region_mean', 'eval_completions/mean_length']) {
        expect(Number.isFinite(e[k]), k).toBe(true);
      }
      expect(e).not.toHaveProperty('eval_num_tokens');
    }
    // Training is untouched: same adapter and training metrics as without evaluation.
    const without = await run(join(tmp, 'plain'), false);
    expect(without.metrics.some((m) => 'eval_loss' in m)).toBe(false);
    expect(withEval.adapter).toEqual(without.adapter);
    const trainRows = (m: Record<string, number>[]) => m.filter((x) => 'loss' in x).map(({ tokens_per_second: _t, ...x }) => x);
    expect(trainRows(withEval.metrics)).toEqual(trainRows(without.metrics));
  }, 120_000);
});
