// Sequence log-probabilities of completions: log_softmax(logits)[t] gathered at token t+1, masked to
// positions whose label is not −100 (prompt and padding excluded), summed per sequence, with the
// count of counted tokens (for per-token averages). The per-token values come from the fused
// tokenLogprobs, so neither direction materialises a [B, T, V] log-softmax; from hidden states
// (hiddenSequenceLogprobs, what training uses) the lm_head is applied in row chunks
// (lmHeadLogprobs), so not even the [B, T, V] logits exist.
//   logits [B, T, V] or hidden [B, T, D] with head [V, D], labels [B, T] (i32, −100 = ignore)
//   → { sum [B], count [B] }
import { cast, concat, full, lmHeadLogprobs, narrow, ne, sum, tokenLogprobs } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

const IGNORE = -100;

export function sequenceLogprobs(logits: Tensor, labels: Tensor): { sum: Tensor; count: Tensor } {
  if (logits.ndim !== 3) throw new Error(`sequenceLogprobs: logits must be [B, T, V], got ${logits.describe()}`);
  const targets = nextTokenTargets('sequenceLogprobs', logits, labels);
  return perSequence(tokenLogprobs(logits, targets, { ignoreIndex: IGNORE }, 'sequenceLogprobs'), targets);
}

/** sequenceLogprobs of the logits hidden · headᵀ, computed chunk by chunk. */
export function hiddenSequenceLogprobs(hidden: Tensor, head: Tensor, labels: Tensor): { sum: Tensor; count: Tensor } {
  if (hidden.ndim !== 3) throw new Error(`hiddenSequenceLogprobs: hidden must be [B, T, D], got ${hidden.describe()}`);
  const targets = nextTokenTargets('hiddenSequenceLogprobs', hidden, labels);
  return perSequence(lmHeadLogprobs(hidden, head, targets, { ignoreIndex: IGNORE }), targets);
}

/** Targets [B, T]: labels shifted left by one; the last position predicts nothing. */
function nextTokenTargets(op: string, x: Tensor, labels: Tensor): Tensor {
  const [B, T] = x.shape;
  if (labels.dtype !== 'i32' || labels.ndim !== 2 || labels.shape[0] !== B || labels.shape[1] !== T) {
    throw new Error(`${op}: labels must be i32 [${B}, ${T}] for ${x.describe()}, got ${labels.describe()}`);
  }
  const targets = concat([narrow(labels, 1, 1, T - 1), full([B, 1], IGNORE, { dtype: 'i32', backend: labels.backend })], 1);
  if (labels.host) {
    // Keep the values known on the host so the log-prob ops can range-check them without a GPU read.
    const h = labels.host, shifted = new Int32Array(B * T).fill(IGNORE);
    for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) shifted[b * T + t] = h[b * T + t + 1];
    targets.host = shifted;
  }
  return targets;
}

function perSequence(logp: Tensor, targets: Tensor): { sum: Tensor; count: Tensor } {
  return { sum: sum(logp, -1), count: sum(cast(ne(targets, IGNORE), 'f32'), -1) };
}
