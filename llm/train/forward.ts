// One training batch through the model: ids, positions and attention from the collated Batch.
import type { Batch } from '../data/collate.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { tensor } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

/**
 * Batch [B, T] → the final hidden states [B, T, hidden]. The training losses apply the lm_head
 * (model.headWeight) themselves, chunked over rows (lmHeadLogprobs), so the [B, T, vocab] logits
 * and their gradient never exist at once.
 */
export function hiddenBatch(model: LlamaForCausalLM, batch: Batch): Tensor {
  const backend = model.backend;
  const [B, T] = batch.shape;
  const ids = tensor(Int32Array.from(batch.inputIds.flat()), [B, T], { backend });
  return model.hidden(ids, { positions: batch.positionIds, segments: batchSegments(batch) });
}

/**
 * Attention segments of a batch (ForwardOpts.segments): a token attends to earlier tokens of its own
 * segment only. Padded batches: the attention mask itself (1 real, 0 padding); packed batches: the
 * example number of each token (1, 2, ...; 0 padding), the block-diagonal mask of padding-free packing.
 */
export function batchSegments(batch: Batch): number[][] {
  return batch.segmentIds ?? batch.attentionMask;
}

/** Labels [B, T] (i32, −100 = not counted) of a batch, for sequenceLogprobs. */
export function batchLabels(model: LlamaForCausalLM, batch: Batch): Tensor {
  const [B, T] = batch.shape;
  return tensor(Int32Array.from(batch.labels.flat()), [B, T], { dtype: 'i32', backend: model.backend });
}
