// Fused causal scaled-dot-product attention (PyTorch's F.scaled_dot_product_attention with
// is_causal, plus GQA and segment masks), one backend routine forward and one backward:
// the [T, S] score matrix is never stored, only the per-row logsumexp for the backward.
import * as routines from '../../backends/routines/index.ts';
import type { AttentionParams } from '../../backends/routines/index.ts';
import { record } from '../autodiff.ts';
import type { Tensor } from '../tensor.ts';
import { wrap } from './create.ts';
import { expectFloat, sameBackend } from './util.ts';

export interface AttentionOpts {
  /** Multiplier of q·k (default 1 / √D). */
  scale?: number;
  /** Keys already in a cache before this call's queries: query t sits at position past + t (default S − T). */
  past?: number;
  /**
   * Segment ids, i32 [B, T] of the queries and [B, S] of the keys (both or neither): a query sees
   * only keys of its own segment. Padding is segment 0, examples 1, 2, ... (packed rows).
   */
  segQ?: Tensor;
  segK?: Tensor;
}

/**
 * softmax(scale · q kᵀ + causal/segment mask) v for q [B, H, T, D], k, v [B, KV, S, D] → [B, H, T, D].
 * H must be a multiple of KV (query head h uses kv head ⌊h / (H / KV)⌋). Query t sees key s when
 * s ≤ past + t (and segK[b, s] == segQ[b, t]); a query that sees no key gives 0 (and no gradient).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOpts = {}): Tensor {
  const op = 'scaled_dot_product_attention';
  expectFloat(op, q, k, v);
  sameBackend(op, q, k, v);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new Error(`${op}: expected q [B, H, T, D], k and v [B, KV, S, D], got q ${q.describe()}, k ${k.describe()}, v ${v.describe()}`);
  }
  const [B, H, T, D] = q.shape, [, KV, S] = k.shape;
  if (k.shape.some((d, i) => d !== v.shape[i])) throw new Error(`${op}: k ${k.describe()} and v ${v.describe()} must have one shape`);
  if (k.shape[0] !== B || k.shape[3] !== D) throw new Error(`${op}: k ${k.describe()} must be [B=${B}, KV, S, D=${D}] for q ${q.describe()}`);
  if (KV === 0 || H % KV !== 0) throw new Error(`${op}: query heads ${H} must be a multiple of kv heads ${KV}`);
  if (D === 0) throw new Error(`${op}: head dim must be at least 1, got q ${q.describe()}`);
  const past = opts.past ?? S - T;
  if (!Number.isInteger(past) || past < 0) throw new Error(`${op}: past ${past} must be a non-negative integer (S = ${S}, T = ${T})`);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  if (!Number.isFinite(scale)) throw new Error(`${op}: scale ${scale} must be finite`);
  const { segQ, segK } = opts;
  if (!segQ !== !segK) throw new Error(`${op}: segQ and segK come together (both or neither)`);
  for (const [name, s, n] of [['segQ', segQ, T], ['segK', segK, S]] as const) {
    if (!s) continue;
    sameBackend(op, q, s);
    if (s.dtype !== 'i32' || s.ndim !== 2 || s.shape[0] !== B || s.shape[1] !== n) {
      throw new Error(`${op}: ${name} must be i32 [${B}, ${n}], got ${s.describe()}`);
    }
  }
  const p: AttentionParams = { B, H, KV, T, S, D, scale, past };
  const be = q.backend;
  const segs = () => [segQ?.storage ?? null, segK?.storage ?? null] as const;
  const res = be.run(routines.attentionForward, q.storage, k.storage, v.storage, ...segs(), p);
  const out = wrap(res.out, q.shape);
  const lse = wrap(res.lse, [B, H, T]);
  const recorded = record(out, op, [q, k, v], (g) => {
    const gr = be.run(routines.attentionBackward, q.storage, k.storage, v.storage, out.storage, lse.storage, g.storage, ...segs(), p);
    return [
      q.requiresGrad ? wrap(gr.dq, q.shape) : (be.free(gr.dq), null),
      k.requiresGrad ? wrap(gr.dk, k.shape) : (be.free(gr.dk), null),
      v.requiresGrad ? wrap(gr.dv, v.shape) : (be.free(gr.dv), null),
    ];
  });
  if (!recorded.requiresGrad) lse.dispose(); // only the backward reads it
  return recorded;
}
