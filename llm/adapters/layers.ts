// The LoRA layers of a model, found by module path, and wrapping a chosen set of Linear modules
// (what an adapter file names) in LoRALinear. Paths are Hugging Face module names:
// model.layers.3.self_attn.q_proj.
import { Linear } from '../../engine/nn/layers.ts';
import { LoRALinear } from '../../engine/nn/lora.ts';
import type { Module } from '../../engine/nn/module.ts';
import { Generator } from '../../engine/random.ts';

/** Each Llama block's Linear modules, by short name, with the sub-module that holds them. */
export const LLAMA_BLOCK_LINEARS: Record<string, string> = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
};

const LAYER_PATH = /^model\.layers\.(\d+)\.(.+)$/;

/** 'model.layers.3.self_attn.q_proj' → { layer: 3, key: 'self_attn.q_proj', name: 'q_proj' }; null when not in a block. */
export function splitBlockPath(path: string): { layer: number; key: string; name: string } | null {
  const m = LAYER_PATH.exec(path);
  if (!m) return null;
  const key = m[2];
  const name = key.slice(key.lastIndexOf('.') + 1);
  if (LLAMA_BLOCK_LINEARS[name] !== key) return null;
  return { layer: Number(m[1]), key, name };
}

export function blockPath(layer: number, key: string): string {
  return `model.layers.${layer}.${key}`;
}

/** The model's LoRA layers by module path, in module order. */
export function loraLayers(model: Module): Map<string, LoRALinear> {
  const out = new Map<string, LoRALinear>();
  for (const [path, m] of model.namedModules()) if (m instanceof LoRALinear) out.set(path, m);
  return out;
}

/** Number of decoder blocks (model.layers.N). */
export function countLayers(model: Module): number {
  let n = 0;
  for (const [path] of model.namedModules()) {
    const m = /^model\.layers\.(\d+)$/.exec(path);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

export interface WrapOptions {
  r: number;
  alpha: number;
  rslora: boolean;
  dropout: number;
  /** The multiplier on B·A (overrides alpha/r, so an mlx-lm scale is kept exactly). */
  scale: number;
  /** Train the adapter (A and B get gradients, dropout on); default: inference (frozen, no dropout). */
  trainable?: boolean;
}

/**
 * Replace the Linear at each path with a LoRALinear (A and B left at their init, for the caller to
 * fill). Every other parameter is frozen, as applyLoRA and PEFT do.
 */
export function wrapLinears(model: Module, paths: readonly string[], o: WrapOptions, source: string): Map<string, LoRALinear> {
  const existing = loraLayers(model);
  if (existing.size) {
    throw new Error(`${source}: the model already has LoRA layers (${[...existing.keys()][0]}, ...); load an adapter into a plain base model, or merge the current one first (mergeLoRA)`);
  }
  const modules = new Map(model.namedModules());
  for (const p of model.parameters()) { p.requiresGrad = false; p.zeroGrad(); }
  const g = new Generator(0);
  const out = new Map<string, LoRALinear>();
  for (const path of paths) {
    const dot = path.lastIndexOf('.');
    const parent = modules.get(dot < 0 ? '' : path.slice(0, dot));
    const name = path.slice(dot + 1);
    const child = parent?.children().get(name);
    if (!parent || !(child instanceof Linear)) throw new Error(`${source}: the model has no Linear module ${path}`);
    const lora = new LoRALinear(child, { r: o.r, alpha: o.alpha, dropout: o.dropout, rslora: o.rslora }, { generator: g });
    lora.scale = o.scale;
    lora.training = o.trainable === true;
    lora.lora_A.requiresGrad = o.trainable === true;
    lora.lora_B.requiresGrad = o.trainable === true;
    parent.setChild(name, lora);
    out.set(path, lora);
  }
  return out;
}
