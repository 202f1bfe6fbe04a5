// A batch of prompts through the model in one forward, left-padded as generation pads them (padding is
// its own attention segment, positions count from each prompt's first token), so position −1 is every
// prompt's last token. Returns the last position's logits; hooks installed on the model run as usual.
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { narrow, tensor } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';

export interface PaddedBatch { ids: number[][]; positions: number[][]; segments: number[][] }

export function leftPad(prompts: readonly number[][], padId = 0): PaddedBatch {
  if (prompts.some((p) => p.length === 0)) throw new Error('editing: every prompt needs at least one token');
  const T = Math.max(...prompts.map((p) => p.length));
  const pad = prompts.map((p) => T - p.length);
  return {
    ids: prompts.map((p, b) => [...new Array<number>(pad[b]).fill(padId), ...p]),
    positions: prompts.map((_, b) => Array.from({ length: T }, (_, t) => Math.max(0, t - pad[b]))),
    segments: prompts.map((_, b) => Array.from({ length: T }, (_, t) => (t < pad[b] ? 0 : 1))),
  };
}

/**
 * Last-position logits of each prompt as float64 rows [B][vocab], in chunks of `batchSize`. `during`
 * runs inside each chunk's tidy scope (after the forward) and may return tensors to read afterwards.
 */
export async function lastLogits(
  model: LlamaForCausalLM, prompts: readonly number[][], o: { batchSize?: number; during?: () => Tensor[]; after?: (kept: Tensor[], start: number) => Promise<void> } = {},
): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  const bs = o.batchSize ?? 32;
  const V = model.config.vocabSize;
  for (let i = 0; i < prompts.length; i += bs) {
    const chunk = prompts.slice(i, i + bs);
    const { ids, positions, segments } = leftPad(chunk);
    const T = ids[0].length;
    const [logits, ...kept] = noGrad(() => tidy(() => {
      const x = tensor(Int32Array.from(ids.flat()), [chunk.length, T], { dtype: 'i32', backend: model.backend });
      const l = model.forward(x, { positions, segments, lastOnly: true });
      return [l, ...(o.during?.() ?? [])];
    }));
    const data = await logits.data();
    logits.dispose();
    for (let b = 0; b < chunk.length; b++) out.push(Float64Array.from(data.subarray(b * V, (b + 1) * V)));
    try {
      await o.after?.(kept, i);
    } finally {
      for (const t of kept) t.dispose();
    }
  }
  return out;
}

/** narrow along T for negative offsets: x [B, T, H] → [B, 1, H] at T + offset. */
export function atOffset(x: Tensor, offset: number): Tensor {
  const T = x.shape[1];
  if (offset >= 0 || -offset > T) throw new Error(`editing: position offset ${offset} is outside a batch of ${T} tokens`);
  return narrow(x, 1, T + offset, 1);
}
