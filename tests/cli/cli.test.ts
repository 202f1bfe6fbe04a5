// The built `wgrad` command: stdout carries only generated text, bad flags exit 2 with the flag
// named, and a short `train` run writes metrics, both adapter formats and checkpoints.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asset, haveAssets } from '../io/shared-assets.ts';
import { buildCli, type BuiltCli } from './built-cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'wgrad-cli-'));
const BIN = 'models/stories260K/stories260K.bin', TOK = 'models/stories260K/tok512.bin';
const HF = 'models/stories260K-hf', DATA = 'data/torchtune/alpaca_tiny.json';
const GOLDEN = 'models/stories260K/golden/stories260K_greedy_n200.txt';
const HH = 'data/hh-rlhf/harmless-base.test.jsonl.gz';
const ok = haveAssets(BIN, TOK, HF, DATA, GOLDEN);

let cli: BuiltCli;
const wgrad = (...args: string[]) => cli.run(args);

beforeAll(async () => { cli = await buildCli(); }, 60_000);
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); cli?.remove(); });

describe.skipIf(!ok)('wgrad CLI', () => {
  it('generate prints only the text: greedy from BOS is the start of llama2.c\'s output', () => {
    const r = wgrad('generate', '--model', asset(BIN), '--tokenizer', asset(TOK), '--max-tokens', '40');
    expect(r.status, r.stderr).toBe(0);
    const text = r.stdout.replace(/\n$/, '');
    expect(text.length).toBeGreaterThan(50);
    expect(readFileSync(asset(GOLDEN), 'utf8').startsWith(text)).toBe(true);
    expect(r.stderr).toMatch(/tokens in .* s/);
  });

  it('bad input exits non-zero and names the flag or file', () => {
    let r = wgrad('generate', '--model', asset(HF), '--top-p', '7');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--top-p expects a number in (0, 1], got "7"');
    r = wgrad('generate', '--model', join(tmp, 'missing'));
    expect(r.stderr).toContain('does not exist');
    r = wgrad('train', '--method', 'sft', '--model', asset(HF), '--data', asset(DATA), '--output-dir', tmp, '--lora-targets', 'qproj', '--iters', '1');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown target module(s) qproj');
    r = wgrad('train', '--method', 'ppo', '--model', asset(HF), '--data', asset(DATA), '--output-dir', tmp);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--method expects sft | dpo | orpo | cpo | simpo | kto | reinforcement, got "ppo"');
    r = wgrad('train', '--method', 'dpo', '--loss-type', 'apo', '--model', asset(HF), '--data', asset(DATA), '--output-dir', tmp);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--loss-type expects sigmoid | robust | hinge | ipo, got "apo"');
    r = wgrad('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('train writes metrics.jsonl, a PEFT and an mlx-lm adapter, and checkpoints', () => {
    const out = join(tmp, 'run');
    const r = wgrad('train', '--method', 'sft', '--model', asset(HF), '--data', asset(DATA), '--output-dir', out,
      '--iters', '2', '--batch-size', '2', '--max-length', '256', '--save-every', '1', '--lora-r', '4');
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['metrics.jsonl', 'adapter/adapter_config.json', 'adapter/adapter_model.safetensors',
      'adapter-mlx/adapter_config.json', 'adapter-mlx/adapters.safetensors', 'checkpoints/step-0000002/trainer_state.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const peft = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(peft).toMatchObject({ peft_type: 'LORA', r: 4 });
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBe(2);
  }, 120_000);

  it('train --method dpo on hh-rlhf dialogues logs TRL\'s metric names and writes the adapter', () => {
    if (!haveAssets(HH)) return;
    const out = join(tmp, 'dpo'), data = join(tmp, 'hh.jsonl');
    writeFileSync(data, gunzipSync(readFileSync(asset(HH))).toString('utf8').split('\n').slice(0, 8).join('\n') + '\n');
    const r = wgrad('train', '--method', 'dpo', '--beta', '0.2', '--model', asset(HF), '--data', data, '--output-dir', out,
      '--iters', '2', '--batch-size', '2', '--max-length', '48', '--max-prompt-length', '24', '--lora-r', '2');
    expect(r.status, r.stderr).toBe(0);
    const m = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(m[0].loss).toBeCloseTo(Math.LN2, 5);
    expect(Object.keys(m[0])).toEqual(expect.arrayContaining(['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected']));
    expect(existsSync(join(out, 'adapter', 'adapter_model.safetensors'))).toBe(true);
  }, 120_000);
});
