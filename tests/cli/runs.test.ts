// Run folders through the built CLI: SIGINT finishes the step, writes a checkpoint, says how to
// resume and exits 130; `--resume` then reaches the same adapter bytes as an uninterrupted run, with
// no step logged twice; a second run into the folder is refused, a resume with other settings is
// refused naming them, --overwrite starts over; bad output folders fail before any work; `merge`
// writes a folder whose greedy output equals `generate --adapter`.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asset, haveAssets } from '../io/shared-assets.ts';
import { buildCli, type BuiltCli } from './built-cli.ts';

const HF = 'models/stories260K-hf';
const ok = haveAssets(HF);
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-runs-'));
const data = join(tmp, 'train.jsonl');
let cli: BuiltCli;

beforeAll(async () => {
  cli = await buildCli();
  const rows = ['Once upon a time', 'The cat sat', 'Lily went to the park', 'The sun was hot', 'Tom had a red ball', 'A bird sang'].map((p, i) =>
    JSON.stringify({ prompt: p, completion: ` and it was a happy day number ${i}.` }));
  writeFileSync(data, rows.join('\n') + '\n');
}, 60_000);
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); cli?.remove(); });

const train = (out: string, ...extra: string[]) => ['train', '--model', asset(HF), '--data', data, '--output-dir', out,
  '--iters', '4', '--batch-size', '2', '--max-length', '32', '--lora-r', '2', '--learning-rate', '1e-2', '--log-every', '1', ...extra];
const steps = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => 'loss' in r).map((r) => r.step);
const adapterBytes = (out: string) => readFileSync(join(out, 'adapter', 'adapter_model.safetensors'));

describe.skipIf(!ok)('wgrad train run folders', () => {
  it('SIGINT checkpoints and exits 130; --resume reaches the uninterrupted adapter; reuse is refused', async () => {
    const whole = join(tmp, 'whole'), cut = join(tmp, 'cut');
    const r0 = cli.run(train(whole));
    expect(r0.status, r0.stderr).toBe(0);
    expect(r0.stderr).toMatch(/data: prompt-completion 6; max length 32\n {2}train: 6 rows read, 6 kept/);
    expect(steps(whole)).toEqual([1, 2, 3, 4]);

    const child = cli.spawn(train(cut));
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr!.on('data', (b: Buffer) => {
        const before = stderr;
        stderr += b.toString();
        if (!/step 1\/4/.test(before) && /step 1\/4/.test(stderr)) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('stopped by SIGINT after step');
    expect(stderr).toMatch(/Continue with:\n {2}wgrad train .* --resume/);
    const done = steps(cut);
    expect(done.length).toBeLessThan(4);
    expect(readdirSync(join(cut, 'checkpoints'))).toEqual([`step-${String(done.length).padStart(7, '0')}`]);
    expect(JSON.parse(readFileSync(join(cut, 'run.json'), 'utf8')).ended).toMatchObject({ signal: 'SIGINT', step: done.length });

    let r = cli.run(train(cut));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${cut} holds another run`);
    r = cli.run(train(cut, '--resume', '--lora-r', '3')); // the later --lora-r wins, as with any flag
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('was made with other settings: lora-r 2 (now 3)');

    // A step the killed run logged after its checkpoint must not stay in metrics.jsonl.
    writeFileSync(join(cut, 'metrics.jsonl'), readFileSync(join(cut, 'metrics.jsonl'), 'utf8') + JSON.stringify({ step: 99, loss: 1 }) + '\n');
    mkdirSync(join(cut, 'checkpoints', 'step-0000099.tmp-999999999'));
    r = cli.run(train(cut, '--resume'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`resuming from ${join(cut, 'checkpoints', `step-${String(done.length).padStart(7, '0')}`)} (step ${done.length})`);
    expect(steps(cut)).toEqual([1, 2, 3, 4]);
    expect(existsSync(join(cut, 'checkpoints', 'step-0000099.tmp-999999999'))).toBe(false);
    expect(adapterBytes(cut).equals(adapterBytes(whole))).toBe(true);

    r = cli.run(train(cut, '--overwrite', '--iters', '1'));
    expect(r.status, r.stderr).toBe(0);
    expect(steps(cut)).toEqual([1]);
  }, 120_000);

  it('bad output folders fail before loading anything, naming the flag', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    let r = cli.run(train(file));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--output-dir ${file} is a file`);
    r = cli.run(train('/proc/wgrad-x'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('a kernel filesystem');
    r = cli.run(train(join(file, 'sub')));
    expect(r.stderr).toContain('cannot be written: a part of the path is a file');
    expect(r.stderr).not.toContain('loaded');
  });

  it('settings are checked against the model, and degenerate data is reported', () => {
    const bad = (extra: string[], msg: string) => {
      const r = cli.run(train(join(tmp, 'never'), ...extra));
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(msg);
    };
    bad(['--lora-layers', '0-99'], '--lora-layers 0-99: the model has layers 0-4');
    bad(['--warmup-steps', '9'], '--warmup-steps 9 exceeds --max-steps 4');
    bad(['--max-length', '4096'], "--max-length 4096 exceeds the model's 512 positions");
    if (haveAssets('tokenizers/llama2/tokenizer.json')) {
      bad(['--tokenizer', asset('tokenizers/llama2/tokenizer.json')], 'has 32000 tokens but the model');
    }
    const pairs = join(tmp, 'pairs.jsonl');
    writeFileSync(pairs, [0, 1, 2].map((i) => JSON.stringify({ prompt: `Q${i}:`, chosen: ' yes.', rejected: i ? ' no.' : ' yes.' })).join('\n') + '\n');
    const out = join(tmp, 'dpo');
    const r = cli.run(['train', '--method', 'dpo', '--model', asset(HF), '--data', pairs, '--output-dir', out, '--iters', '1', '--batch-size', '1', '--lora-r', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: 1 pair(s) have identical chosen and rejected completions');
    expect(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).data_summary.warnings[0]).toContain('identical chosen and rejected');

    // A learning rate of 10 sends the loss above ln(512) + 1 = 7.24 from step 2 on; no checkpoint
    // is written from there, and the run stops with exit status 1.
    const div = join(tmp, 'diverge');
    const d = cli.run(train(div, '--iters', '8', '--learning-rate', '10', '--lr-schedule', 'constant', '--save-every', '1', '--stop-on-divergence'));
    expect(d.status, d.stderr).toBe(1);
    expect(d.stderr).toMatch(/warning: training diverges: loss [\d.]+ at step \d+ has been above ln\(vocab 512\) \+ 1 = 7.238/);
    const m = /stopped at step (\d+): training diverged from step (\d+); the last good checkpoint is (\S+)/.exec(d.stderr)!;
    const [stopped, since, good] = [Number(m[1]), Number(m[2]), m[3]];
    const saved = readdirSync(join(div, 'checkpoints')).map((n) => Number(n.slice(5)));
    expect(saved).not.toContain(stopped); // the diverged state is not checkpointed
    const before = saved.filter((k) => k < since);
    expect(good).toBe(before.length ? join(div, 'checkpoints', `step-${String(Math.max(...before)).padStart(7, '0')}`) : '(none');
  }, 60_000);

  it('--save-total-limit keeps the newest checkpoints; merge equals generate --adapter', () => {
    const out = join(tmp, 'limit');
    let r = cli.run(train(out, '--save-every', '1', '--save-total-limit', '2'));
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(out, 'checkpoints'))).toEqual(['step-0000003', 'step-0000004']);
    const merged = join(tmp, 'merged');
    r = cli.run(['merge', '--model', asset(HF), '--adapter', join(out, 'adapter-mlx'), '--output-dir', merged]);
    expect(r.status, r.stderr).toBe(0);
    const gen = (...a: string[]) => cli.run(['generate', '--max-tokens', '24', ...a, 'Once upon a time']);
    const a = gen('--model', asset(HF), '--adapter', join(out, 'adapter'));
    const m = gen('--model', merged);
    const base = gen('--model', asset(HF));
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toContain('PEFT adapter');
    expect(m.stdout).toBe(a.stdout);
    expect(a.stdout).not.toBe(base.stdout); // the adapter (lr 1e-2) changes what the model says
    // --chat needs a template; stories260K has none, so --chat-template supplies it.
    r = cli.run(['generate', '--model', asset(HF), '--chat', 'hi']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('has no chat template; pass --chat-template chatml');
    r = cli.run(['generate', '--model', asset(HF), '--chat', '--chat-template', 'chatml', '--max-tokens', '4', 'hi']);
    expect(r.status, r.stderr).toBe(0);
  }, 60_000);
});
