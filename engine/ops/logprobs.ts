// Per-token log-probabilities log_softmax(logits)[target] as one fused backend routine each way: the
// forward reads every row once and keeps only logp and logsumexp per row; the backward writes
// d logits = g·(onehot − softmax) straight into one [rows, V] buffer. Neither the [rows, V]
// log-softmax nor the gather/scatter buffers of the composed version exist.
// Cross-entropy (nn.ts) and the sequence log-probs of the preference methods sit on top.
import * as routines from '../../backends/routines/index.ts';
import { record } from '../autodiff.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { wrap } from './create.ts';
import { expectFloat, sameBackend } from './util.ts';

export interface TokenLogprobsOpts {
  /** Targets equal to this count for nothing: logp 0 and no gradient (PyTorch uses -100). */
  ignoreIndex?: number;
}

/**
 * log p(target) = logits[..., t] − logsumexp(logits[..., :]) for logits [..., V] and i32 targets [...]
 * → [...], 0 where the target is ignoreIndex. `op` names the caller in error messages.
 */
export function tokenLogprobs(logits: Tensor, targets: Tensor, opts: TokenLogprobsOpts = {}, op = 'token_logprobs'): Tensor {
  expectFloat(op, logits);
  sameBackend(op, logits, targets);
  if (logits.ndim < 1) throw new Error(`${op}: logits must be [..., V], got ${logits.describe()}`);
  const lead = logits.shape.slice(0, -1);
  const V = logits.shape[logits.ndim - 1];
  if (targets.dtype !== 'i32' || targets.ndim !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`${op}: targets must be i32 of shape ${shapeStr(lead)} for logits ${logits.describe()}, got ${targets.describe()}`);
  }
  const ignore = opts.ignoreIndex ?? null;
  if (ignore !== null && (!Number.isInteger(ignore) || Math.abs(ignore) >= 2 ** 31)) {
    throw new Error(`${op}: ignoreIndex ${ignore} must be a 32-bit integer`);
  }
  checkTokenTargets(op, targets, V, ignore);
  const rows = targets.size;
  const { logp, lse } = logits.backend.run(routines.tokenLogprobs, logits.storage, targets.storage, rows, V, ignore);
  const out = wrap(logp, lead);
  // Held by the backward closure, like any intermediate of the step's scope; freed now if no backward will run.
  const lseT = wrap(lse, lead);
  const res = record(out, op, [logits], (g) => [
    wrap(g.backend.run(routines.tokenLogprobsBackward, logits.storage, targets.storage, lseT.storage, g.storage, rows, V, ignore), logits.shape),
  ]);
  if (!res.requiresGrad) lseT.dispose();
  return res;
}

/** Host-side check when the targets' values are known (tensors built from arrays): no GPU read. */
export function checkTokenTargets(op: string, targets: Tensor, V: number, ignore: number | null): void {
  const h = targets.host;
  if (!h) return;
  for (let i = 0; i < h.length; i++) {
    const t = h[i];
    if (t !== ignore && (t < 0 || t >= V)) {
      const allowed = ignore === null ? `0 ≤ target < ${V}` : `0 ≤ target < ${V} or target = ignoreIndex ${ignore}`;
      throw new Error(`${op}: target ${t} at position ${i} is out of range for a vocabulary of ${V} (expected ${allowed})`);
    }
  }
}
