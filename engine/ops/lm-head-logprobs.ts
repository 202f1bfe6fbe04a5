// Per-token log-probabilities straight from the last hidden states, chunked over rows so the
// [N, V] logits never exist at once (the "fused linear cross-entropy" of Liger-Kernel):
//   hidden [..., D], weight [V, D] (lm_head, y = h·Wᵀ), targets [...] i32 → logp [...]
// Forward, per chunk of C rows: logits_c = h_c·Wᵀ [C, V] → tokenLogprobs → logp_c, lse_c; logits_c freed.
// Backward, per chunk: logits_c recomputed, dlogits_c = g_c·(onehot − softmax) [C, V] (one fused pass),
//   dh_c = dlogits_c·W [C, D],  dW += dlogits_cᵀ·h_c [V, D]; both chunk buffers freed.
// Peak [·, V] memory is C·V instead of N·V, for one extra h·Wᵀ matmul in backward.
// With a scale s (GRPO's 1 / temperature) the logits are s·h·Wᵀ = (s·h_c)·Wᵀ: the chunk's hidden rows
// are scaled before the matmul, so dW += dlogits_cᵀ·(s·h_c) and dh_c = s·dlogits_c·W.
// lmHeadTokenStats also returns each row's entropy of softmax(logits), H = lse − Σ_v p_v·z_v, from the
// same chunk's logits (no gradient; GRPO logs it and masks by it).
import * as routines from '../../backends/routines/index.ts';
import { noGrad, record } from '../autodiff.ts';
import { tidy } from '../memory.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { wrap, zeros } from './create.ts';
import { add, mul, sub } from './elementwise.ts';
import { checkTokenTargets, type TokenLogprobsOpts } from './logprobs.ts';
import { matmul } from './matmul.ts';
import { softmax } from './nn.ts';
import { sum } from './reduce.ts';
import { concat, narrow, reshape } from './shape.ts';
import { expectFloat, sameBackend } from './util.ts';

export interface LmHeadLogprobsOpts extends TokenLogprobsOpts {
  /** Rows per chunk (default: as many as keep one chunk's logits within 16M elements, 64 MB, in whole 128-row tiles where that leaves any). */
  chunkRows?: number;
  /** Multiplies the logits before the log-softmax (GRPO: 1 / temperature; default 1). */
  scale?: number;
}

/** logp [...] of targets under softmax(scale · hidden·weightᵀ), with gradient to hidden and weight. */
export function lmHeadLogprobs(hidden: Tensor, weight: Tensor, targets: Tensor, opts: LmHeadLogprobsOpts = {}): Tensor {
  return lmHeadTokenStats(hidden, weight, targets, opts, false).logp;
}

/**
 * lmHeadLogprobs plus, with `entropy`, each row's entropy [...] of softmax(scale · hidden·weightᵀ)
 * (detached), computed from the same chunks of logits.
 */
export function lmHeadTokenStats(hidden: Tensor, weight: Tensor, targets: Tensor, opts: LmHeadLogprobsOpts, entropy: true): { logp: Tensor; entropy: Tensor };
export function lmHeadTokenStats(hidden: Tensor, weight: Tensor, targets: Tensor, opts?: LmHeadLogprobsOpts, entropy?: boolean): { logp: Tensor; entropy: Tensor | null };
export function lmHeadTokenStats(hidden: Tensor, weight: Tensor, targets: Tensor, opts: LmHeadLogprobsOpts = {}, entropy = false): { logp: Tensor; entropy: Tensor | null } {
  const op = 'lm_head_logprobs';
  expectFloat(op, hidden, weight);
  sameBackend(op, hidden, weight, targets);
  if (hidden.ndim < 1 || weight.ndim !== 2 || weight.shape[1] !== hidden.shape[hidden.ndim - 1]) {
    throw new Error(`${op}: expected hidden [..., D] and weight [V, D], got ${hidden.describe()} and ${weight.describe()}`);
  }
  const lead = hidden.shape.slice(0, -1);
  const [V, D] = weight.shape;
  if (targets.dtype !== 'i32' || targets.ndim !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`${op}: targets must be i32 of shape ${shapeStr(lead)} for hidden ${hidden.describe()}, got ${targets.describe()}`);
  }
  const ignore = opts.ignoreIndex ?? null;
  if (ignore !== null && (!Number.isInteger(ignore) || Math.abs(ignore) >= 2 ** 31)) {
    throw new Error(`${op}: ignoreIndex ${ignore} must be a 32-bit integer`);
  }
  // Whole 128-row tiles where the chunk allows (the GPU's unchecked matmul): 341 → 256 rows for a 49k vocab.
  const fit = Math.max(1, Math.floor(2 ** 24 / Math.max(V, 1)));
  const C = opts.chunkRows ?? (fit >= 128 ? fit - (fit % 128) : fit);
  if (!Number.isInteger(C) || C < 1) throw new Error(`${op}: chunkRows ${C} must be a positive integer`);
  const scale = opts.scale ?? 1;
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale ${scale} must be a finite number`);
  checkTokenTargets(op, targets, V, ignore);
  const N = targets.size;
  const h2 = reshape(hidden, [N, D]), t1 = reshape(targets, [N]);
  const chunks: [number, number][] = [];
  for (let c0 = 0; c0 < N; c0 += C) chunks.push([c0, Math.min(C, N - c0)]);
  const backend = hidden.backend;

  /** logits of rows [c0, c0 + n) and those rows' targets; run inside a tidy that frees them. */
  // hc is the chunk's hidden rows times the scale: logits = hc·Wᵀ, and dW's chunk is dlogitsᵀ·hc.
  const chunkLogits = (c0: number, n: number) => {
    const hc = scale === 1 ? narrow(h2, 0, c0, n) : mul(narrow(h2, 0, c0, n), scale);
    return { hc, tc: narrow(t1, 0, c0, n), logits: matmul(hc, weight, { transB: true }) };
  };

  const [logp, lse, ent] = noGrad(() => {
    const parts = chunks.map(([c0, n]) => tidy(() => {
      const { tc, logits } = chunkLogits(c0, n);
      const r = backend.run(routines.tokenLogprobs, logits.storage, tc.storage, n, V, ignore);
      const lseC = wrap(r.lse, [n]);
      // H = lse − Σ_v softmax(z)_v·z_v, per row of this chunk.
      const out = [wrap(r.logp, [n]), lseC];
      if (entropy) out.push(sub(lseC, sum(mul(softmax(logits, -1), logits), -1)));
      return out;
    }));
    const k = entropy ? 3 : 2;
    if (parts.length === 0) return Array.from({ length: k }, () => zeros([0], { backend }));
    const joined = tidy(() => Array.from({ length: k }, (_, j) => concat(parts.map((p) => p[j]))));
    for (const p of parts) for (const t of p) t.dispose();
    return joined;
  });

  const res = record(reshape(logp, lead), op, [hidden, weight], (g) => {
    const g1 = reshape(g, [N]);
    const dh: Tensor[] = [];
    let dW: Tensor | null = null;
    for (const [c0, n] of chunks) {
      const [dhc, dWc] = tidy(() => {
        const { hc, tc, logits } = chunkLogits(c0, n);
        const gc = narrow(g1, 0, c0, n), lc = narrow(lse, 0, c0, n);
        const dlogits = wrap(backend.run(routines.tokenLogprobsBackward, logits.storage, tc.storage, lc.storage, gc.storage, n, V, ignore), [n, V]);
        return [
          hidden.requiresGrad ? (scale === 1 ? matmul(dlogits, weight) : mul(matmul(dlogits, weight), scale)) : null,
          weight.requiresGrad ? (dW ? add(dW, matmul(dlogits, hc, { transA: true })) : matmul(dlogits, hc, { transA: true })) : null,
        ];
      });
      if (dhc) dh.push(dhc);
      if (dWc) { dW?.dispose(); dW = dWc; }
    }
    let dHidden: Tensor | null = null;
    if (hidden.requiresGrad) {
      dHidden = dh.length ? reshape(concat(dh), hidden.shape) : mul(hidden, 0);
      for (const t of dh) t.dispose();
    }
    if (weight.requiresGrad && !dW) dW = mul(weight, 0);
    return [dHidden, dW];
  });
  if (!res.requiresGrad) lse.dispose();
  return { logp: res, entropy: ent ? reshape(ent, lead) : null };
}
