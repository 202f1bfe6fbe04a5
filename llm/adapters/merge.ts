// Fold each LoRA layer into its base weight, W' = W + s·B·A (B [out, r], A [r, in]), and put the
// plain Linear back in its place, as PEFT's merge_and_unload and mlx-lm's fuse do. The product is
// computed on the model's backend; the layer's `enabled` flag is ignored (every adapter is merged).
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import type { Module } from '../../engine/nn/module.ts';
import { add, matmul, mul } from '../../engine/ops/index.ts';
import { loraLayers } from './layers.ts';

/** Merges in place and returns the same model, now without LoRA layers. */
export function mergeLoRA<M extends Module>(model: M): M {
  const layers = loraLayers(model);
  if (!layers.size) throw new Error('mergeLoRA: the model has no LoRA layers');
  const modules = new Map(model.namedModules());
  for (const [path, lora] of layers) {
    const dot = path.lastIndexOf('.');
    const parent = modules.get(dot < 0 ? '' : path.slice(0, dot))!;
    const name = path.slice(dot + 1);
    const base = lora.base;
    tidy(() => noGrad(() => {
      const delta = mul(matmul(lora.lora_B, lora.lora_A), lora.scale); // [out, in]
      base.weight.assign(add(base.weight, delta));
    }));
    lora.lora_A.dispose();
    lora.lora_B.dispose();
    parent.setChild(name, base);
  }
  return model;
}
