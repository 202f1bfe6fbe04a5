// Shared pieces of the adapter suites: the stories260K base model, LoRA with random non-zero A and
// B, logits, and temporary folders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import * as w from '../../engine/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import type { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { applyLoRA, type LoRATargets } from '../../engine/nn/apply-lora.ts';
import type { LoRALinear } from '../../engine/nn/lora.ts';
import { asset } from '../io/shared-assets.ts';

export const HF = 'models/stories260K-hf';
export const BIN = 'models/stories260K/stories260K.bin';
export const IDS = [1, 403, 407, 261, 378, 8, 9, 270];

export async function baseModel(backend: Backend, path = HF): Promise<LlamaForCausalLM> {
  return (await loadLlama(asset(path), { backend })).model;
}

/** applyLoRA, then A and B drawn from seeded normals (B is zero at init), dropout off. */
export function randomLoRA(model: LlamaForCausalLM, t: LoRATargets, seed = 1): Map<string, LoRALinear> {
  const wrapped = applyLoRA(model, t);
  const backend = model.backend;
  let s = seed * 1000;
  for (const [, l] of wrapped) {
    l.lora_A.assign(w.mul(w.randn(l.lora_A.shape, { backend, seed: s++ }), 0.3));
    l.lora_B.assign(w.mul(w.randn(l.lora_B.shape, { backend, seed: s++ }), 0.2));
    l.training = false;
  }
  return wrapped;
}

/** logits [T, vocab] of IDS (or the given ids), as f32. */
export async function logitsOf(model: LlamaForCausalLM, ids: number[] = IDS): Promise<Float32Array> {
  const backend = model.backend;
  const out = w.noGrad(() => model.forward(w.tensor(Int32Array.from(ids), [1, ids.length], { backend, dtype: 'i32' })));
  const d = await out.data();
  out.dispose();
  return Float32Array.from(d);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A fresh temporary folder, removed after the file's tests. */
export function tempDirs(prefix: string): () => string {
  const made: string[] = [];
  afterAll(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
  return () => {
    const d = mkdtempSync(join(tmpdir(), `wgrad-${prefix}-`));
    made.push(d);
    return d;
  };
}
