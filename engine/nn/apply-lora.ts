// Wrap a model's Linear layers in LoRALinear by module name (q_proj, v_proj, ..., or all-linear)
// and layer range, and freeze everything else — PEFT's get_peft_model for Llama-family models.
import { Generator } from '../random.ts';
import { Linear } from './layers.ts';
import { LoRALinear, type LoRAConfig } from './lora.ts';
import { Module } from './module.ts';

export interface LoRATargets extends LoRAConfig {
  /** Module names ('q_proj', ...) or ['all-linear'] (every Linear except lm_head, as PEFT). */
  targetModules: string[];
  /** Only layers in [first, last] (inclusive) of model.layers.N; default all. */
  layers?: [number, number];
  seed?: number;
}

export const LLAMA_LINEAR_NAMES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** Returns the wrapped layers by dotted module path (e.g. model.layers.0.self_attn.q_proj). */
export function applyLoRA(model: Module, t: LoRATargets): Map<string, LoRALinear> {
  const all = t.targetModules.includes('all-linear');
  const unknown = t.targetModules.filter((n) => n !== 'all-linear' && !LLAMA_LINEAR_NAMES.includes(n));
  if (unknown.length) throw new Error(`LoRA: unknown target module(s) ${unknown.join(', ')} (expected ${LLAMA_LINEAR_NAMES.join(', ')} or all-linear)`);
  for (const p of model.parameters()) { p.requiresGrad = false; p.zeroGrad(); }
  const g = new Generator(t.seed ?? 0);
  const wrapped = new Map<string, LoRALinear>();
  for (const [path, parent] of model.namedModules()) {
    for (const [name, child] of parent.children()) {
      if (!(child instanceof Linear) || name === 'lm_head') continue;
      if (!all && !t.targetModules.includes(name)) continue;
      const layer = /(?:^|\.)layers\.(\d+)\./.exec(`${path}.`);
      if (t.layers && (!layer || +layer[1] < t.layers[0] || +layer[1] > t.layers[1])) continue;
      const lora = new LoRALinear(child, t, { generator: g });
      parent.setChild(name, lora);
      wrapped.set(path ? `${path}.${name}` : name, lora);
    }
  }
  if (!wrapped.size) throw new Error(`LoRA: no Linear layer matched targets [${t.targetModules}]${t.layers ? ` in layers ${t.layers[0]}..${t.layers[1]}` : ''}`);
  return wrapped;
}

/** The trainable parameters (requiresGrad) with their names. */
export function trainableParameters(model: Module): [string, import('../tensor.ts').Tensor][] {
  return model.namedParameters().filter(([, p]) => p.requiresGrad);
}
