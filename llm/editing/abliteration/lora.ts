// The weight edit as a rank-1 LoRA on the untouched base (heretic, model.py abliterate): for each
// o_proj and down_proj W [hidden, in] with block weight w, ΔW = −w·r̂ (r̂ᵀ W) = B·A with
// A = r̂ᵀ W [1, in] and B = −w·r̂ [hidden, 1], r = 1, alpha = 1 (scale 1). PEFT and mlx-lm load it;
// merged, it is orthogonalizeWeights without the embedding (which a LoRA on Linear layers cannot hold).
import { noGrad } from '../../../engine/autodiff.ts';
import { tidy } from '../../../engine/memory.ts';
import type { LoRALinear } from '../../../engine/nn/lora.ts';
import { matmul, mul, reshape, tensor } from '../../../engine/ops/index.ts';
import type { Tensor } from '../../../engine/tensor.ts';
import { blockPath, LLAMA_BLOCK_LINEARS, wrapLinears } from '../../adapters/layers.ts';
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { unit } from '../linalg.ts';
import { layerWeight, type WeightEditOptions } from './weights.ts';

/** Wraps the edited o_proj/down_proj modules in LoRA layers carrying the edit; returns them by path. */
export function abliterationLoRA(model: LlamaForCausalLM, direction: ArrayLike<number>, o: Omit<WeightEditOptions, 'embedding'> = {}): Map<string, LoRALinear> {
  const H = model.config.hiddenSize;
  if (direction.length !== H) throw new Error(`abliteration: direction has ${direction.length} values, the model's hidden size is ${H}`);
  if (o.normPreserving) throw new Error('abliteration: the norm-preserving edit is not rank 1, so it has no rank-1 LoRA form; write the HF folder instead (--format hf)');
  const weights = model.model.layers.map((_, l) => ({ o_proj: layerWeight(l, o, 'attn'), down_proj: layerWeight(l, o, 'mlp') }));
  const first = weights.findIndex((w) => w.o_proj !== 0 || w.down_proj !== 0);
  if (first < 0) throw new Error('abliteration: every block weight is 0; the edit changes nothing');
  // Every block from the first edited one to the last (B = 0 where the weight is 0): mlx-lm's
  // adapter config can only name the last N layers.
  const paths = weights.slice(first).flatMap((_, i) => [blockPath(first + i, LLAMA_BLOCK_LINEARS.o_proj), blockPath(first + i, LLAMA_BLOCK_LINEARS.down_proj)]);
  const rHost = Float32Array.from(unit(direction));
  const wrapped = wrapLinears(model, paths, { r: 1, alpha: 1, rslora: false, dropout: 0, scale: 1 }, 'abliteration');
  noGrad(() => tidy(() => {
    const r = tensor(rHost, [H], { backend: model.backend });
    for (const [path, lora] of wrapped) {
      const l = Number(/layers\.(\d+)\./.exec(path)![1]);
      const W: Tensor = lora.base.weight; // [hidden, in]
      lora.lora_A.assign(matmul(reshape(r, [1, H]), W));
      lora.lora_B.assign(mul(reshape(r, [H, 1]), -weights[l][path.endsWith('o_proj') ? 'o_proj' : 'down_proj']));
    }
  }));
  return wrapped;
}
