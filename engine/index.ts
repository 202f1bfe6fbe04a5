// wgrad's public engine API.
import type { Backend } from '../backends/backend.ts';
import { createBackend, createCpuBackend, type BackendChoice } from '../backends/select.ts';
import { getBackend, setBackend, setDefaultBackendFactory, setMode, type ExecutionMode } from './context.ts';

// Tensors made before init()/setBackend() live on a float32 cpu backend.
setDefaultBackendFactory(() => createCpuBackend());

export { Tensor, shapeSize } from './tensor.ts';
export { tidy, dispose } from './memory.ts';
export { grad, noGrad, detach, backward, isGradEnabled } from './autodiff.ts';
export { valueAndGrad, valueAndGradModel, treeFromNamed, flattenTree } from './nn/param-tree.ts';
export type { ParamTree } from './nn/param-tree.ts';
export { getBackend, setBackend, getMode, setMode } from './context.ts';
export type { ExecutionMode } from './context.ts';
export { lazy, evaluate, isPending, lazyCounters } from './lazy.ts';
export { Generator, manualSeed } from './random.ts';
export * from './ops/index.ts';
export type { Backend, DType } from '../backends/backend.ts';
export { createBackend, resolveBackendChoice, BACKEND_CHOICES, isSoftwareAdapter } from '../backends/select.ts';
export type { BackendChoice, CreateBackendOptions } from '../backends/select.ts';
export type { MatmulPrecision } from '../backends/routine.ts';
// Modules and optimizers.
export { Module } from './nn/module.ts';
export { Linear, Embedding, RMSNorm } from './nn/layers.ts';
export { LoRALinear } from './nn/lora.ts';
export { applyLoRA } from './nn/apply-lora.ts';
export { AdamW } from './optim/adamw.ts';
export { SGD } from './optim/sgd.ts';
export { Lion } from './optim/lion.ts';

/**
 * Create a backend (explicit choice, then WGRAD_BACKEND, then auto) and make it the default;
 * `mode: 'lazy'` makes elementwise ops lazy (engine/lazy.ts; eager when left out).
 */
export async function init(opts: { backend?: BackendChoice; precision?: 'f32' | 'f64'; mode?: ExecutionMode } = {}): Promise<Backend> {
  const { mode, ...choice } = opts;
  const b = await createBackend(choice);
  setBackend(b);
  if (mode) setMode(mode);
  return b;
}

/** Live and pooled buffers of the default backend (a training loop must keep liveBuffers flat). */
export function memoryStats() {
  return getBackend().memoryStats();
}
