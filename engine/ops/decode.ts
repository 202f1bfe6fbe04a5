// Inference-only fused ops of a decoding step (no gradient: they throw on inputs that need one):
//   fusedProjection — few-row (≤ 64) x · [W0; W1; W2]ᵀ with RMSNorm folded in and a residual added, or the
//     SwiGLU gate/up pair, in one dispatch (routines/gemv.ts);
//   ropeIntoCache — rope of q and k and the in-place write of k and v into a preallocated KV cache
//     (routines/kv-rope.ts).
import { fusedProjection as projectionRoutine, PROJECTION_MAX_ROWS, type ProjectionParams, projectionWidth } from '../../backends/routines/gemv.ts';
import { kvRope, type RowLayout } from '../../backends/routines/kv-rope.ts';
import { isGradEnabled } from '../autodiff.ts';
import type { Tensor } from '../tensor.ts';
import { wrap } from './create.ts';
import type { RopeTables } from './nn.ts';
import { expectFloat, sameBackend } from './util.ts';

/** Rows a fusedProjection takes at most. */
export const FUSED_PROJECTION_MAX_ROWS = PROJECTION_MAX_ROWS;

function noGradient(op: string, ts: Tensor[]): void {
  if (isGradEnabled() && ts.some((t) => t.requiresGrad)) throw new Error(`${op}: inference only (no gradient); run it under noGrad`);
}

export interface ProjectionOpts {
  /** RMSNorm x first, with this weight [K] and eps. */
  norm?: { weight: Tensor; eps: number };
  /** Added to the output [M, N]. */
  residual?: Tensor;
  /** concat (default): [M, ΣNi]; swiglu: silu(x·W0ᵀ) ⊙ (x·W1ᵀ) [M, N]. */
  mode?: 'concat' | 'swiglu';
}

/** x [M, K] (M ≤ FUSED_PROJECTION_MAX_ROWS = 64), weights [Ni, K] → [M, ΣNi] (concat) or [M, N0] (swiglu). */
export function fusedProjection(x: Tensor, weights: Tensor[], opts: ProjectionOpts = {}): Tensor {
  const op = 'fused_projection';
  const all = [x, ...weights, ...(opts.norm ? [opts.norm.weight] : []), ...(opts.residual ? [opts.residual] : [])];
  expectFloat(op, ...all);
  sameBackend(op, ...all);
  noGradient(op, all);
  if (x.ndim !== 2) throw new Error(`${op}: x must be [M, K], got ${x.describe()}`);
  const [M, K] = x.shape;
  if (M < 1 || M > PROJECTION_MAX_ROWS) throw new Error(`${op}: x ${x.describe()} has ${M} rows, at most ${PROJECTION_MAX_ROWS} are supported`);
  for (const w of weights) if (w.ndim !== 2 || w.shape[1] !== K) throw new Error(`${op}: weights must be [N, ${K}], got ${w.describe()}`);
  const p: ProjectionParams = { M, K, N: weights.map((w) => w.shape[0]), mode: opts.mode ?? 'concat', eps: opts.norm?.eps ?? 0 };
  const NT = projectionWidth(p);
  if (opts.norm && (opts.norm.weight.ndim !== 1 || opts.norm.weight.shape[0] !== K)) {
    throw new Error(`${op}: norm weight must be [${K}], got ${opts.norm.weight.describe()}`);
  }
  const r = opts.residual;
  if (r && (r.ndim !== 2 || r.shape[0] !== M || r.shape[1] !== NT)) throw new Error(`${op}: residual must be [${M}, ${NT}], got ${r.describe()}`);
  const s = x.backend.run(projectionRoutine, x.storage, weights.map((w) => w.storage), opts.norm?.weight.storage ?? null, r?.storage ?? null, p);
  return wrap(s, [M, NT]);
}

/** One of q, k, v: a tensor whose rows (b·T + t) hold heads × D values from `offset`, `stride` apart. */
export interface HeadRows { t: Tensor; layout: RowLayout }

/**
 * Rotates q and k by the tables (positions of this step, [B][T]) and writes k and v into kCache,
 * vCache [B, KV, L, D] at slots start..start + T − 1, in place; returns q rotated [B, H, T, D].
 */
export function ropeIntoCache(q: HeadRows, k: HeadRows, v: HeadRows, tables: RopeTables, kCache: Tensor, vCache: Tensor,
  p: { B: number; T: number; H: number; start: number; style?: 'half' | 'interleaved' }): Tensor {
  const op = 'rope_into_cache';
  const all = [q.t, k.t, v.t, tables.cos, kCache, vCache];
  expectFloat(op, ...all);
  sameBackend(op, ...all);
  noGradient(op, all);
  if (kCache.ndim !== 4 || kCache.shape.some((d, i) => d !== vCache.shape[i]) || kCache.shape[0] !== p.B) {
    throw new Error(`${op}: caches must be [B=${p.B}, KV, L, D] of one shape, got ${kCache.describe()} and ${vCache.describe()}`);
  }
  const [, KV, L, D] = kCache.shape;
  if (tables.T !== p.T || (tables.blocks !== 1 && tables.blocks !== p.B)) {
    throw new Error(`${op}: rope tables of ${tables.blocks} × ${tables.T} positions for B = ${p.B}, T = ${p.T}`);
  }
  const out = q.t.backend.run(kvRope, q.t.storage, k.t.storage, v.t.storage, tables.cos.storage, tables.sin.storage,
    kCache.writableStorage(), vCache.writableStorage(), {
      B: p.B, T: p.T, H: p.H, KV, D, L, start: p.start, rotaryDim: tables.rotaryDim, style: p.style ?? 'half',
      tableBlocks: tables.blocks, q: q.layout, k: k.layout, v: v.layout,
    });
  return wrap(out, [p.B, p.H, p.T, D]);
}
