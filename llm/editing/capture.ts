// The residual stream of a batch of prompts at chosen blocks, hook points and positions (offsets
// from each prompt's end: −1 the last token; −k..−1 the post-instruction template tokens).
import type { Tensor } from '../../engine/tensor.ts';
import type { HookPoint, LlamaForCausalLM } from '../models/llama/model.ts';
import { withHooks } from './hooks.ts';
import { atOffset, lastLogits } from './forward.ts';

export interface CaptureSpec {
  layers: readonly number[];
  point: HookPoint;
  /** Negative offsets from each prompt's end. */
  offsets: readonly number[];
  batchSize?: number;
}

/** acts[layer index in spec][offset index] = [N × hidden] row-major, float64. */
export type Activations = Float64Array[][];

export async function captureResidual(model: LlamaForCausalLM, prompts: readonly number[][], spec: CaptureSpec): Promise<Activations> {
  const { numLayers: L, hiddenSize: H } = model.config;
  for (const l of spec.layers) if (!Number.isInteger(l) || l < 0 || l >= L) throw new Error(`capture: block ${l} is outside the model's ${L} blocks`);
  const minLen = Math.min(...prompts.map((p) => p.length));
  for (const off of spec.offsets) {
    if (!Number.isInteger(off) || off >= 0 || -off > minLen) throw new Error(`capture: position offset ${off} must be a negative integer within every prompt (shortest: ${minLen} tokens)`);
  }
  const N = prompts.length;
  const acts: Activations = spec.layers.map(() => spec.offsets.map(() => new Float64Array(N * H)));
  const slot = new Map(spec.layers.map((l, i) => [l, i]));
  let seen: Tensor[] = [];
  const hook = (x: Tensor, at: { point: HookPoint; layer: number }) => {
    if (at.point === spec.point && slot.has(at.layer)) for (const off of spec.offsets) seen.push(atOffset(x, off));
    return x;
  };
  await withHooks(model, [hook], () => lastLogits(model, prompts, {
    batchSize: spec.batchSize,
    during: () => { const s = seen; seen = []; return s; },
    after: async (kept, start) => {
      // kept is ordered by layer (forward order) then offset.
      let k = 0;
      for (const l of [...spec.layers].sort((a, b) => a - b)) {
        for (let j = 0; j < spec.offsets.length; j++) {
          const d = await kept[k++].data(); // [B, 1, H]
          acts[slot.get(l)!][j].set(d, start * H);
        }
      }
    },
  }));
  return acts;
}
