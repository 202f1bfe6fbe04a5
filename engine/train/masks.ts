// Attention segments of training batches (ForwardOpts.segments): a token attends to earlier tokens
// of its own segment only. Padded batches: the attention mask itself (1 real, 0 padding); packed
// batches: the example number of each token (1, 2, ...; 0 padding), which confines attention to one
// example (the block-diagonal mask of padding-free packing).
import type { Batch } from '../data/collate.ts';

export function batchSegments(batch: Batch): number[][] {
  return batch.segmentIds ?? batch.attentionMask;
}
