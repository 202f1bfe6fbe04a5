// Additive attention masks [B, 1, 1, T, T] for training batches: causal, minus padding keys
// (padded batches), or causal within each packed example only (block-diagonal by segment id).
import type { Backend } from '../../backends/backend.ts';
import type { Batch } from '../data/collate.ts';
import { tensor } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';

export function batchAttentionMask(batch: Batch, backend: Backend): Tensor {
  const [B, T] = batch.shape;
  const m = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    const seg = batch.segmentIds?.[b];
    const valid = batch.attentionMask[b];
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < T; s++) {
        const ok = s <= t && valid[s] === 1 && (!seg || seg[s] === seg[t]);
        // A query row with no visible key (left padding) attends to itself, so softmax stays finite.
        m[(b * T + t) * T + s] = ok || s === t ? 0 : -1e9;
      }
    }
  }
  return tensor(m, [B, 1, 1, T, T], { backend });
}
