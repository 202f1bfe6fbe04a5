// Headless Deno is a way to run wgrad: `deno task wgrad train ...` (deno.json: read, write, env
// and 127.0.0.1 only; no other network, subprocesses, FFI or system info) runs the same command on the same files as Node. The same
// LoRA SFT run on the cpu backend writes byte-identical adapters in Node and in Deno, and Deno on
// WebGPU (lavapipe here) agrees with them within the kernels' tolerance.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../llm/io/safetensors.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';
import { denoMissingMessage, findDeno } from './find-deno.ts';
import { denoEnv, run } from './spawn.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(MODEL, DATA) && process.env.WGRAD_SKIP_DENO !== '1';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-deno-task-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const args = (out: string, backend: string) => [
  'train', '--model', asset(MODEL), '--data', asset(DATA), '--output-dir', out, '--backend', backend,
  '--max-steps', '2', '--batch-size', '2', '--max-length', '128', '--learning-rate', '3e-3',
  '--lora-r', '4', '--lora-alpha', '8', '--lora-targets', 'q_proj,v_proj', '--seed', '1', '--save-every', '2',
];

const FILES = ['adapter/adapter_model.safetensors', 'adapter/adapter_config.json', 'adapter-mlx/adapters.safetensors', 'adapter-mlx/adapter_config.json'];

async function denoTrain(out: string, backend: string): Promise<string> {
  const deno = findDeno();
  expect(deno, denoMissingMessage()).toBeTruthy();
  const { code, output } = await run(deno!, ['task', '--quiet', 'wgrad', ...args(out, backend)], denoEnv(deno!), 100_000);
  expect(code, `deno task wgrad train failed (exit ${code}):\n${output.slice(-4000)}`).toBe(0);
  return output;
}

function tensors(file: string): Map<string, Float32Array> {
  return new Map([...readSafetensors(new Uint8Array(readFileSync(file)), file).tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

describe(`deno task wgrad${skipNote(ok)}`, () => {
  it.skipIf(!ok)('writes byte-identical adapters to Node on cpu, and agrees on WebGPU', { timeout: 150_000 }, async () => {
    const node = join(tmp, 'node'), denoCpu = join(tmp, 'deno-cpu'), denoGpu = join(tmp, 'deno-webgpu');
    const { main } = await import('../../cli/program.ts');
    const [nodeCode, cpuOut, gpuOut] = await Promise.all([
      main(args(node, 'cpu')),
      denoTrain(denoCpu, 'cpu'),
      denoTrain(denoGpu, 'webgpu'),
    ]);
    expect(nodeCode).toBe(0);
    expect(cpuOut).toMatch(/backend cpu/);
    expect(gpuOut, 'Deno ran on WebGPU').toMatch(/backend webgpu/);
    for (const f of FILES) expect(readFileSync(join(denoCpu, f)).equals(readFileSync(join(node, f))), `${f}: Node and Deno differ`).toBe(true);
    const a = tensors(join(node, FILES[0])), b = tensors(join(denoGpu, FILES[0]));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    let diff = 0;
    for (const [k, x] of a) x.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - b.get(k)![i])); });
    console.log(`deno webgpu (${/backend (webgpu[^\n]*)/.exec(gpuOut)?.[1]}) vs node cpu: max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
  });
});
