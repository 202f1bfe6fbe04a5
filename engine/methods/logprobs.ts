// Sequence log-probabilities of completions: log_softmax(logits)[t] gathered at token t+1, masked to
// positions whose label is not −100 (prompt and padding excluded), summed per sequence, with the
// count of counted tokens (for per-token averages).
//   logits [B, T, V], labels [B, T] (i32, −100 = ignore) → { sum [B], count [B] }
import { crossEntropy, mul, ne, reshape, sum, cast, concat, narrow, full } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';

export function sequenceLogprobs(logits: Tensor, labels: Tensor): { sum: Tensor; count: Tensor } {
  const [B, T, V] = logits.shape;
  if (labels.dtype !== 'i32' || labels.ndim !== 2 || labels.shape[0] !== B || labels.shape[1] !== T) {
    throw new Error(`sequenceLogprobs: labels must be i32 [${B}, ${T}] for logits ${logits.describe()}, got ${labels.describe()}`);
  }
  // Targets: labels shifted left by one; the last position predicts nothing.
  const targets = concat([narrow(labels, 1, 1, T - 1), full([B, 1], -100, { dtype: 'i32', backend: labels.backend })], 1);
  const nll = crossEntropy(reshape(logits, [B * T, V]), reshape(targets, [B * T]), { ignoreIndex: -100, reduction: 'none' });
  const counted = cast(ne(targets, -100), 'f32');
  return { sum: mul(sum(reshape(nll, [B, T]), -1), -1), count: sum(counted, -1) };
}
