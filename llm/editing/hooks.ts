// Hooks the Llama forward consults (LlamaForCausalLM.hooks): add a vector to, or project a direction
// out of, the residual stream at a block's input or output, its attention output or its MLP output,
// at every position or only from a position on (steering after the prompt). Shapes: x [B, T, hidden].
import type { Backend, Tensor } from '../../engine/index.ts';
import { add, matmul, mul, sub, tensor } from '../../engine/ops/index.ts';
import type { ForwardHook, HookPoint, LlamaForCausalLM } from '../models/llama/model.ts';

export type { ForwardHook, HookPoint } from '../models/llama/model.ts';
export const HOOK_POINTS: readonly HookPoint[] = ['block_input', 'attn_output', 'mlp_output', 'block_output'];

/** A hook holding device tensors: remove it from the model, then dispose. */
export interface EditHook { hook: ForwardHook; dispose(): void }

/** Device copies of host vectors, made on first use on the backend the forward runs on. */
class DeviceVectors {
  private cache = new Map<string, Tensor>();
  constructor(private backend: Backend) {}
  get(key: string, values: Float32Array, shape: number[]): Tensor {
    let t = this.cache.get(key);
    if (!t) { t = tensor(values, shape, { backend: this.backend }).keep(); this.cache.set(key, t); }
    return t;
  }
  dispose() { for (const t of this.cache.values()) t.dispose(); this.cache.clear(); }
}

/** 1 where positions[b][t] ≥ from[b], else 0, as [B, T, 1]; null when every entry is 1. */
function positionMask(positions: number[][], from: number[], backend: Backend): Tensor | null {
  if (positions.length !== from.length) throw new Error(`steering: ${from.length} prompt lengths for a batch of ${positions.length}`);
  const m = positions.flatMap((row, b) => row.map((p) => (p >= from[b] ? 1 : 0)));
  if (m.every((v) => v === 1)) return null;
  return tensor(Float32Array.from(m), [positions.length, positions[0].length, 1], { backend });
}

export interface AblationOptions {
  /** Default: block_input, attn_output and mlp_output (Arditi et al.'s directional ablation). */
  points?: readonly HookPoint[];
  /** Blocks to ablate in (default all). */
  layers?: readonly number[];
}

/** x ← x − r̂ r̂ᵀ x with r̂ = direction/|direction| (the direction need not be a unit vector). */
export function ablationHook(model: LlamaForCausalLM, direction: Float32Array, o: AblationOptions = {}): EditHook {
  const H = model.config.hiddenSize;
  if (direction.length !== H) throw new Error(`ablation: direction has ${direction.length} values, the model's hidden size is ${H}`);
  const norm = Math.hypot(...direction);
  if (!(norm > 0)) throw new Error('ablation: the direction is zero');
  const unit = direction.map((v) => v / norm);
  const points = new Set(o.points ?? ['block_input', 'attn_output', 'mlp_output']);
  const layers = o.layers ? new Set(o.layers) : null;
  const dev = new DeviceVectors(model.backend);
  const hook: ForwardHook = (x, at) => {
    if (!points.has(at.point) || (layers && !layers.has(at.layer))) return x;
    const col = dev.get('col', unit, [H, 1]), row = dev.get('row', unit, [H]);
    return sub(x, mul(matmul(x, col), row)); // [B,T,1]·[H] → [B,T,H]
  };
  return { hook, dispose: () => dev.dispose() };
}

export interface AdditionOptions {
  /** Multiplies every vector (negative subtracts). Default 1. */
  strength?: number;
  /** Default block_output (repeng, llama.cpp's control vectors). */
  point?: HookPoint;
  /** Per batch row, the first position that is steered (CAA: after the prompt); default every position. */
  from?: () => number[] | null;
}

/** x ← x + s·v[layer] for each block that has a vector. */
export function additionHook(model: LlamaForCausalLM, vectors: ReadonlyMap<number, Float32Array>, o: AdditionOptions = {}): EditHook {
  const H = model.config.hiddenSize, L = model.config.numLayers;
  for (const [l, v] of vectors) {
    if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`steering: block ${l} is outside the model's ${L} blocks`);
    if (v.length !== H) throw new Error(`steering: the vector for block ${l} has ${v.length} values, the model's hidden size is ${H}`);
  }
  const s = o.strength ?? 1;
  const point = o.point ?? 'block_output';
  const dev = new DeviceVectors(model.backend);
  const hook: ForwardHook = (x, at) => {
    const v = vectors.get(at.layer);
    if (at.point !== point || !v || s === 0) return x;
    const delta = mul(dev.get(String(at.layer), v, [H]), s);
    const from = o.from?.();
    const mask = from ? positionMask(at.positions, from, x.backend) : null;
    return add(x, mask ? mul(mask, delta) : delta);
  };
  return { hook, dispose: () => dev.dispose() };
}

/** Runs fn with the hooks installed on the model, removing them afterwards (even on error). */
export async function withHooks<T>(model: LlamaForCausalLM, hooks: readonly (ForwardHook | EditHook)[], fn: () => Promise<T> | T): Promise<T> {
  const fs = hooks.map((h) => (typeof h === 'function' ? h : h.hook));
  model.hooks.push(...fs);
  try {
    return await fn();
  } finally {
    for (const f of fs) model.hooks.splice(model.hooks.indexOf(f), 1);
  }
}
