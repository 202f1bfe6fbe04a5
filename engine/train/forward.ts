// One training batch through the model: ids, positions and attention from the collated Batch.
import type { Batch } from '../data/collate.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { tensor } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import { batchAttentionMask } from './masks.ts';

/** Batch [B, T] → logits [B, T, vocab]. */
export function forwardBatch(model: LlamaForCausalLM, batch: Batch): Tensor {
  const backend = model.backend;
  const [B, T] = batch.shape;
  const ids = tensor(Int32Array.from(batch.inputIds.flat()), [B, T], { backend });
  return model.forward(ids, { positions: batch.positionIds, mask: batchAttentionMask(batch, backend) });
}

/** Labels [B, T] (i32, −100 = not counted) of a batch, for sequenceLogprobs. */
export function batchLabels(model: LlamaForCausalLM, batch: Batch): Tensor {
  const [B, T] = batch.shape;
  return tensor(Int32Array.from(batch.labels.flat()), [B, T], { dtype: 'i32', backend: model.backend });
}
