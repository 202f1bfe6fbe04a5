// Sequence log-probabilities of completions: log_softmax(logits)[t] gathered at token t+1, masked to
// positions whose label is not −100 (prompt and padding excluded), summed per sequence, with the
// count of counted tokens (for per-token averages). The per-token values come from the fused
// tokenLogprobs, so neither direction materialises a [B, T, V] log-softmax.
//   logits [B, T, V], labels [B, T] (i32, −100 = ignore) → { sum [B], count [B] }
import { cast, concat, full, narrow, ne, sum, tokenLogprobs } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

const IGNORE = -100;

export function sequenceLogprobs(logits: Tensor, labels: Tensor): { sum: Tensor; count: Tensor } {
  if (logits.ndim !== 3) throw new Error(`sequenceLogprobs: logits must be [B, T, V], got ${logits.describe()}`);
  const [B, T] = logits.shape;
  if (labels.dtype !== 'i32' || labels.ndim !== 2 || labels.shape[0] !== B || labels.shape[1] !== T) {
    throw new Error(`sequenceLogprobs: labels must be i32 [${B}, ${T}] for logits ${logits.describe()}, got ${labels.describe()}`);
  }
  // Targets: labels shifted left by one; the last position predicts nothing.
  const targets = concat([narrow(labels, 1, 1, T - 1), full([B, 1], IGNORE, { dtype: 'i32', backend: labels.backend })], 1);
  if (labels.host) {
    // Keep the values known on the host so tokenLogprobs can range-check them without a GPU read.
    const h = labels.host, shifted = new Int32Array(B * T).fill(IGNORE);
    for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) shifted[b * T + t] = h[b * T + t + 1];
    targets.host = shifted;
  }
  const logp = tokenLogprobs(logits, targets, { ignoreIndex: IGNORE }, 'sequenceLogprobs');
  return { sum: sum(logp, -1), count: sum(cast(ne(targets, IGNORE), 'f32'), -1) };
}
