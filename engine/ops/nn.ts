// Neural-network building blocks: softmax, cross-entropy, normalisation, rotary embeddings.
import { record } from '../autodiff.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { tensor, wrap } from './create.ts';
import { add, cast, div, exp, mul, ne, rsqrt, sub, where } from './elementwise.ts';
import { gatherLast } from './indexing.ts';
import { logsumexp, mean, sum } from './reduce.ts';
import { concat, narrow, permute, reshape, stack, unsqueeze } from './shape.ts';
import { expectFloat, normAxis } from './util.ts';

/** Apply a last-axis kernel along any axis by moving that axis last and back. */
function alongAxis(x: Tensor, axis: number, op: string, f: (lastAxis: Tensor) => Tensor): Tensor {
  const a = normAxis(op, axis, x.ndim);
  if (a === x.ndim - 1) return f(x);
  const perm = x.shape.map((_, i) => i).filter((i) => i !== a).concat([a]);
  const inv = new Array(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return permute(f(permute(x, perm)), inv);
}

function softmaxLast(x: Tensor, log: boolean): Tensor {
  const cols = x.shape[x.ndim - 1];
  const out = wrap(x.backend.softmax(x.storage, x.size / Math.max(cols, 1), cols, log), x.shape);
  return record(out, log ? 'log_softmax' : 'softmax', [x], (g) =>
    log
      ? [sub(g, mul(exp(out), sum(g, -1, true)))] // g − softmax·Σg
      : [mul(out, sub(g, sum(mul(g, out), -1, true)))], // y·(g − Σ g·y)
  );
}

export function softmax(x: Tensor, axis = -1): Tensor {
  expectFloat('softmax', x);
  return alongAxis(x, axis, 'softmax', (t) => softmaxLast(t, false));
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  expectFloat('log_softmax', x);
  return alongAxis(x, axis, 'log_softmax', (t) => softmaxLast(t, true));
}

export interface CrossEntropyOpts {
  /** Targets equal to this are excluded (PyTorch's default is -100). */
  ignoreIndex?: number;
  /** 1 where a position counts, 0 where it does not; same shape as targets. */
  mask?: Tensor;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of logits [..., V] against integer targets [...]: logsumexp(z) − z[target].
 * 'mean' averages over the counted positions (as PyTorch with ignore_index); an all-ignored batch gives 0.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOpts = {}): Tensor {
  expectFloat('cross_entropy', logits);
  const lead = logits.shape.slice(0, -1);
  if (targets.dtype !== 'i32' || targets.ndim !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`cross_entropy: targets must be i32 of shape ${shapeStr(lead)} for logits ${logits.describe()}, got ${targets.describe()}`);
  }
  let weight: Tensor | null = opts.mask ? opts.mask : null;
  if (weight && (weight.ndim !== lead.length || weight.shape.some((d, i) => d !== lead[i]))) {
    throw new Error(`cross_entropy: mask ${weight.describe()} must have shape ${shapeStr(lead)}`);
  }
  let safeTargets = targets;
  if (opts.ignoreIndex !== undefined) {
    const keep = ne(targets, opts.ignoreIndex);
    safeTargets = where(keep, targets, 0);
    const keepF = cast(keep, 'f32');
    weight = weight ? mul(weight, keepF) : keepF;
  }
  if (safeTargets.host === null && targets.host !== null && opts.ignoreIndex !== undefined) {
    // where() loses the host copy; rebuild it so gatherLast can still range-check.
    safeTargets.host = Int32Array.from(targets.host, (t) => (t === opts.ignoreIndex ? 0 : t));
  }
  const nll = sub(logsumexp(logits, -1), reshape(gatherLast(logits, unsqueeze(safeTargets, -1)), lead));
  const losses = weight ? mul(nll, weight) : nll;
  const reduction = opts.reduction ?? 'mean';
  if (reduction === 'none') return losses;
  const total = sum(losses);
  if (reduction === 'sum') return total;
  if (!weight) return div(total, Math.max(nll.size, 1));
  // Σ w·nll / Σ w, and 0 (not NaN) when nothing counts.
  const denom = sum(weight);
  return div(total, where(ne(denom, 0), denom, 1));
}

/** RMSNorm: x / sqrt(mean(x²) + eps) · weight, over the last axis (Llama). */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  expectFloat('rms_norm', x);
  const y = mul(x, rsqrt(add(mean(mul(x, x), -1, true), eps)));
  return weight ? mul(y, weight) : y;
}

/** LayerNorm over the last axis with optional affine weight and bias. */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  expectFloat('layer_norm', x);
  const xc = sub(x, mean(x, -1, true));
  let y = mul(xc, rsqrt(add(mean(mul(xc, xc), -1, true), eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

export interface RopeOpts {
  /** Shift of the default positions 0..T-1 (decoding with a KV cache). */
  offset?: number;
  /** Position of each row: [T], or [B][T] per sequence for x [B, H, T, D] (left-padded batches). */
  positions?: number[] | number[][];
  theta?: number;
  /** 'half': rotate-half (Hugging Face Llama); 'interleaved': pairs (2i, 2i+1) (llama2.c, GPT-J). */
  style?: 'half' | 'interleaved';
  /** Rotate only the first `rotaryDim` features (default all). */
  rotaryDim?: number;
}

/** cos/sin tables [...positions shape, D/2]: angle = pos · theta^(−2i/D). */
export function ropeTables(positions: number[], dim: number, theta: number, like: Tensor): [Tensor, Tensor] {
  const half = dim / 2;
  const c = new Float32Array(positions.length * half), s = new Float32Array(positions.length * half);
  const inv = Array.from({ length: half }, (_, i) => Math.pow(theta, (-2 * i) / dim));
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const ang = p * inv[i];
      c[t * half + i] = Math.cos(ang);
      s[t * half + i] = Math.sin(ang);
    }
  });
  const shape = [positions.length, half];
  return [tensor(c, shape, { backend: like.backend }), tensor(s, shape, { backend: like.backend })];
}

/** Rotary position embedding of x [..., T, D]. */
export function rope(x: Tensor, opts: RopeOpts = {}): Tensor {
  expectFloat('rope', x);
  if (x.ndim < 2) throw new Error(`rope: expected [..., T, D], got ${x.describe()}`);
  const T = x.shape[x.ndim - 2], D = x.shape[x.ndim - 1];
  const rd = opts.rotaryDim ?? D;
  if (rd % 2 !== 0 || rd > D) throw new Error(`rope: rotary dimension ${rd} must be even and ≤ ${D}`);
  const pos = opts.positions ?? Array.from({ length: T }, (_, i) => i + (opts.offset ?? 0));
  const perBatch = Array.isArray(pos[0]);
  const rows = perBatch ? (pos as number[][]) : [pos as number[]];
  if (rows.some((r) => r.length !== T)) throw new Error(`rope: positions must have length T=${T} for ${x.describe()}`);
  if (perBatch && (x.ndim !== 4 || x.shape[0] !== rows.length)) {
    throw new Error(`rope: per-sequence positions need x [B=${rows.length}, H, T, D], got ${x.describe()}`);
  }
  let [cos, sin] = ropeTables(rows.flat(), rd, opts.theta ?? 10000, x);
  if (perBatch) { cos = reshape(cos, [rows.length, 1, T, rd / 2]); sin = reshape(sin, [rows.length, 1, T, rd / 2]); }
  const xr = rd === D ? x : narrow(x, -1, 0, rd);
  let rotated: Tensor;
  if ((opts.style ?? 'half') === 'half') {
    const x1 = narrow(xr, -1, 0, rd / 2), x2 = narrow(xr, -1, rd / 2, rd / 2);
    rotated = concat([sub(mul(x1, cos), mul(x2, sin)), add(mul(x2, cos), mul(x1, sin))], -1);
  } else {
    const pairs = reshape(xr, [...xr.shape.slice(0, -1), rd / 2, 2]);
    const x1 = reshape(narrow(pairs, -1, 0, 1), [...xr.shape.slice(0, -1), rd / 2]);
    const x2 = reshape(narrow(pairs, -1, 1, 1), [...xr.shape.slice(0, -1), rd / 2]);
    const out = stack([sub(mul(x1, cos), mul(x2, sin)), add(mul(x1, sin), mul(x2, cos))], -1);
    rotated = reshape(out, xr.shape);
  }
  return rd === D ? rotated : concat([rotated, narrow(x, -1, rd, D - rd)], -1);
}
