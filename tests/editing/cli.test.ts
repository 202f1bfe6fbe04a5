// The editing commands of the built `wgrad`: steer train (repeng pairs and CAA A/B files) writes a
// GGUF that steer inspect describes and generate --control-vector applies (strength 0 = unsteered);
// abliterate writes an HF folder and report.json; bad files and mismatched hidden sizes fail naming
// the file and the sizes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeControlVector } from '../../llm/io/gguf.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-edit-cli-'));
const HF = 'models/stories260K-hf', CAA = 'data/caa/refusal/test_dataset_ab.json';
const HARMFUL = 'data/refusal_direction/splits/harmful_val.json', HARMLESS = 'data/refusal_direction/splits/harmless_val.json';
const ok = haveAssets(HF, CAA, HARMFUL, HARMLESS);

const wgrad = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, WGRAD_BACKEND: 'cpu' } });

beforeAll(() => { if (ok) execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'ignore' }); }, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!ok)(`wgrad steer / abliterate / generate --control-vector${skipNote(ok)}`, () => {
  it('steer train → inspect → generate with the vector; strength 0 changes nothing', () => {
    const pairs = join(tmp, 'pairs.jsonl'), vec = join(tmp, 'happy.gguf');
    writeFileSync(pairs, ['Tom', 'Lily', 'Ben', 'Sue'].map((n) => JSON.stringify({ positive: `${n} was very happy. He`, negative: `${n} was very sad. He` })).join('\n') + '\n');
    let r = wgrad('steer', 'train', '--model', asset(HF), '--data', pairs, '--method', 'mean_diff', '--output', vec);
    expect(r.status, r.stderr).toBe(0);
    r = wgrad('steer', 'inspect', vec);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('control vector for "llama", hidden size 64, 4 blocks');
    expect(r.stdout.trim().split('\n').slice(2).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([1, 2, 3, 4]);

    const gen = (...extra: string[]) => wgrad('generate', '--model', asset(HF), '--prompt', 'Lily was very', '--max-tokens', '16', ...extra);
    const base = gen();
    expect(base.status, base.stderr).toBe(0);
    const zero = gen('--control-vector', vec, '--control-strength', '0');
    expect(zero.status, zero.stderr).toBe(0);
    expect(zero.stdout).toBe(base.stdout);
    const steered = gen('--control-vector', vec, '--control-strength=-2', '--control-layers', '2-3');
    expect(steered.status, steered.stderr).toBe(0);
    expect(steered.stdout).not.toBe(base.stdout);
  });

  it('steer train reads CAA A/B files', () => {
    const caa = join(tmp, 'refusal.gguf'), rows = join(tmp, 'caa.json');
    writeFileSync(rows, JSON.stringify(JSON.parse(readFileSync(asset(CAA), 'utf8')).slice(0, 6)));
    const r = wgrad('steer', 'train', '--model', asset(HF), '--data', rows, '--method', 'mean_diff', '--layers', '2-3', '--output', caa);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/6 caa pairs/);
    expect(r.stderr).toContain('2 directions');
  });

  it('abliterate writes an HF folder and a report.json', () => {
    const out = join(tmp, 'abliterated');
    const r = wgrad('abliterate', '--model', asset(HF), '--harmful', asset(HARMFUL), '--harmless', asset(HARMLESS),
      '--n-train', '8', '--n-val', '4', '--n-test', '2', '--max-tokens', '4', '--layer', '2', '--output', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/refusal rate .* held-out harmful/);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'report.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.direction.layer).toBe(2);
    expect(report.direction.values).toHaveLength(64);
    expect(report.heldOut).toEqual({ harmful: 2, harmless: 2 });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).tie_word_embeddings).toBe(false); // the edited embedding was untied from the head
  });

  it('bad files and mismatched sizes name the file and the sizes', () => {
    const small = join(tmp, 'small.gguf');
    writeFileSync(small, writeControlVector({ modelHint: 'llama', directions: new Map([[1, new Float32Array(8)]]) }));
    let r = wgrad('generate', '--model', asset(HF), '--max-tokens', '2', '--control-vector', small);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${small}: direction.1 has 8 values, but the model's hidden size is 64`);
    const junk = join(tmp, 'junk.gguf');
    writeFileSync(junk, 'hello');
    r = wgrad('steer', 'inspect', junk);
    expect(r.stderr).toContain(`${junk}: not a GGUF file`);
    const bad = join(tmp, 'bad.jsonl');
    writeFileSync(bad, '{"positive": "a", "negative": "b"}\n{"chosen": "a"}\n');
    r = wgrad('steer', 'train', '--model', asset(HF), '--data', bad, '--output', join(tmp, 'x.gguf'));
    expect(r.stderr).toContain(`${bad}:2: expected {"positive", "negative"}`);
    r = wgrad('abliterate', '--model', asset(HF), '--harmful', join(tmp, 'missing.txt'), '--harmless', asset(HARMLESS), '--output', join(tmp, 'o'));
    expect(r.stderr).toContain(`${join(tmp, 'missing.txt')}: cannot read`);
    r = wgrad('generate', '--model', asset(HF), '--control-strength', '2');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('need --control-vector FILE');
    r = wgrad('steer', 'train', '--model', asset(HF), '--data', bad, '--output', join(tmp, 'x.gguf'), '--layers', '0-2');
    expect(r.stderr).toContain('cannot include block 0');
  });
});
