// `wgrad train --method grpo|rlvr` in process: its option group in --help, a short RLVR run on
// stories260K with a built-in verifier (metrics with TRL's names, completions.jsonl, the adapter),
// and errors that name the flag.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/program.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const HF = 'models/stories260K-hf';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-grpo-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let out = '', err = '';
beforeEach(() => {
  out = ''; err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out += String(s); return true; });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => { err += String(s); return true; });
  vi.spyOn(console, 'log').mockImplementation((...a) => { out += a.join(' ') + '\n'; });
  vi.spyOn(console, 'error').mockImplementation((...a) => { err += a.join(' ') + '\n'; });
});
afterEach(() => vi.restoreAllMocks());

describe.skipIf(!haveAssets(HF))('wgrad train --method grpo|rlvr', () => {
  it('--help shows the GRPO options', async () => {
    expect(await main(['train', '--help'])).toBe(0);
    for (const f of ['--reward-funcs', '--num-generations', '--max-completion-length', '--epsilon-high', '--scale-rewards', '--num-iterations', '--importance-sampling-level', '--mask-truncated-completions', '--log-completions']) {
      expect(out).toContain(f);
    }
  });

  it('an RLVR run writes metrics with TRL\'s names, completions.jsonl and the adapter', async () => {
    const data = join(tmp, 'q.jsonl');
    writeFileSync(data, ['1', '2', '3', '4'].map((n) => JSON.stringify({ prompt: `Lily had ${n}`, answer: n })).join('\n') + '\n');
    const dir = join(tmp, 'run');
    const code = await main(['train', '--method', 'rlvr', '--model', asset(HF), '--data', data, '--output-dir', dir, '--backend', 'cpu',
      '--reward-funcs', 'accuracy,soft_overlong', '--reward-weights', '1,0.5', '--num-generations', '4', '--batch-size', '8', '--max-completion-length', '5',
      '--loss-type', 'grpo', '--beta', '0.04', '--epsilon-high', '0.28', '--iters', '2', '--learning-rate', '1e-3', '--log-completions', '--lora-r', '2']);
    expect(code, err).toBe(0);
    const m = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'reward' in r);
    expect(m.length).toBe(2);
    for (const k of ['reward', 'reward_std', 'rewards/accuracy/mean', 'rewards/soft_overlong/std', 'kl', 'entropy', 'clip_ratio/region_mean', 'completions/clipped_ratio', 'num_tokens']) {
      expect(m[1], k).toHaveProperty(k);
    }
    expect(readFileSync(join(dir, 'completions.jsonl'), 'utf8').trim().split('\n').length).toBe(16);
    expect(existsSync(join(dir, 'adapter', 'adapter_model.safetensors'))).toBe(true);
  }, 60_000);

  it('--eval-dataset and --eval-steps (TRL\'s names) evaluate on held-out prompts: eval_reward, eval_rewards/<name>/mean', async () => {
    const data = join(tmp, 'q-eval.jsonl'), held = join(tmp, 'held.jsonl');
    writeFileSync(data, ['1', '2', '3', '4'].map((n) => JSON.stringify({ prompt: `Lily had ${n}`, answer: n })).join('\n') + '\n');
    writeFileSync(held, ['5', '6'].map((n) => JSON.stringify({ prompt: `Tom had ${n}`, answer: n })).join('\n') + '\n');
    const dir = join(tmp, 'eval');
    const code = await main(['train', '--method', 'grpo', '--model', asset(HF), '--data', data, '--eval-dataset', held, '--eval-steps', '1', '--output-dir', dir,
      '--backend', 'cpu', '--reward-funcs', 'accuracy', '--num-generations', '2', '--batch-size', '4', '--max-completion-length', '4', '--iters', '2', '--lora-r', '2', '--log-every', '1']);
    expect(code, err).toBe(0);
    const evals = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'eval_loss' in r);
    expect(evals.map((r) => r.step)).toEqual([1, 2]);
    for (const k of ['eval_reward', 'eval_reward_std', 'eval_rewards/accuracy/mean', 'eval_completions/mean_length']) expect(evals[0], k).toHaveProperty(k);
    expect(err).toMatch(/eval step 1: eval_loss [-\d.]+/);
  }, 60_000);

  it('errors name the flag', async () => {
    const data = join(tmp, 'q.jsonl');
    const base = ['train', '--model', asset(HF), '--data', data, '--backend', 'cpu', '--iters', '1'];
    expect(await main([...base, '--method', 'rlvr', '--output-dir', join(tmp, 'e1')])).not.toBe(0);
    expect(err).toContain('--method rlvr needs at least one verifier in --reward-funcs');
    err = '';
    expect(await main([...base, '--method', 'grpo', '--reward-funcs', 'accuracy', '--batch-size', '6', '--output-dir', join(tmp, 'e2')])).not.toBe(0);
    expect(err).toContain('is not a multiple of --num-generations 8');
    err = '';
    expect(await main([...base, '--method', 'grpo', '--reward-funcs', 'accuracy', '--loss-type', 'sigmoid', '--output-dir', join(tmp, 'e3')])).toBe(2);
    expect(err).toContain('--loss-type sigmoid is not a GRPO loss');
    err = '';
    expect(await main([...base, '--method', 'dpo', '--loss-type', 'dapo', '--output-dir', join(tmp, 'e4')])).toBe(2);
    expect(err).toContain('--loss-type dapo is a GRPO loss');
  }, 60_000);
});
