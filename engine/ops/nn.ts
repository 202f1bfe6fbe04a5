// Neural-network building blocks: softmax, cross-entropy, normalisation, rotary embeddings.
// rmsNorm, rope and swiglu run as one fused backend routine each (a decode step is bound by the
// host cost per dispatch); their backward passes are written with ordinary ops.
import * as routines from '../../backends/routines/index.ts';
import type { Backend } from '../../backends/backend.ts';
import { record } from '../autodiff.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { tensor, wrap } from './create.ts';
import { add, cast, div, exp, mul, ne, neg, rsqrt, sigmoid, sub, where } from './elementwise.ts';
import { tokenLogprobs } from './logprobs.ts';
import { mean, sum, sumTo } from './reduce.ts';
import { permute } from './shape.ts';
import { expectFloat, normAxis, sameBackend } from './util.ts';

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
  const out = wrap(x.backend.run(routines.softmax, x.storage, x.size / Math.max(cols, 1), cols, log), x.shape);
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
 * Cross-entropy of logits [..., V] against integer targets [...]: −log_softmax(z)[target], through the
 * fused tokenLogprobs (no [..., V] intermediate but the one gradient buffer).
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
  // Ignored positions come out of tokenLogprobs as 0 with no gradient; the weight only fixes the mean's count.
  const nll = neg(tokenLogprobs(logits, targets, { ignoreIndex: opts.ignoreIndex }, 'cross_entropy'));
  if (opts.ignoreIndex !== undefined) {
    const keepF = cast(ne(targets, opts.ignoreIndex), 'f32');
    weight = weight ? mul(weight, keepF) : keepF;
  }
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

/** RMSNorm: x / sqrt(mean(x²) + eps) · weight, over the last axis (Llama). Weight [D] or null. */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  expectFloat('rms_norm', x);
  if (x.ndim < 1) throw new Error(`rms_norm: expected [..., D], got ${x.describe()}`);
  const D = x.shape[x.ndim - 1];
  if (weight) {
    expectFloat('rms_norm', weight);
    sameBackend('rms_norm', x, weight);
    if (weight.ndim !== 1 || weight.shape[0] !== D) {
      throw new Error(`rms_norm: weight must be [${D}] for ${x.describe()}, got ${weight.describe()}`);
    }
  }
  const rows = D === 0 ? 0 : x.size / D;
  const out = wrap(x.backend.run(routines.rmsNorm, x.storage, weight ? weight.storage : null, rows, D, eps), x.shape);
  const inputs = weight ? [x, weight] : [x];
  return record(out, 'rms_norm', inputs, (g) => {
    // r = rsqrt(mean(x²) + eps) [..., 1]; y = x·r·w.
    // dx = w·r·g − x·r³·mean(g·w·x),  dw = Σ_rows g·x·r.
    const r = rsqrt(add(mean(mul(x, x), -1, true), eps));
    const gw = weight ? mul(g, weight) : g;
    const dx = x.requiresGrad
      ? sub(mul(gw, r), mul(x, mul(mul(r, mul(r, r)), mean(mul(gw, x), -1, true))))
      : null;
    const dw = weight && weight.requiresGrad ? sumTo(mul(g, mul(x, r)), weight.shape) : null;
    return weight ? [dx, dw] : [dx];
  });
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
  /**
   * Precomputed tables (ropeTables with the same positions, rotary dim and theta), shared by the
   * calls of one forward pass (every layer's q and k); they replace positions/offset/theta.
   */
  tables?: RopeTables;
}

/**
 * cos/sin of angle pos · theta^(−2i/rotaryDim), i < rotaryDim/2, as tensors [blocks · T, rotaryDim/2]:
 * one block for positions [T] (or [B][T] with every sequence alike), B blocks for differing [B][T].
 */
export class RopeTables {
  readonly cos: Tensor;
  readonly sin: Tensor;
  /** Table blocks: 1 shared, or B (one per sequence of x [B, H, T, D]). */
  readonly blocks: number;
  readonly T: number;
  private readonly sinHost: Float32Array;
  private negSinT: Tensor | null = null;

  constructor(positions: number[] | number[][], readonly rotaryDim: number, readonly theta: number, readonly backend: Backend) {
    if (rotaryDim % 2 !== 0 || rotaryDim <= 0) throw new Error(`rope: rotary dimension ${rotaryDim} must be even and positive`);
    let rows = Array.isArray(positions[0]) ? (positions as number[][]) : [positions as number[]];
    if (rows.some((r) => r.length !== rows[0].length)) throw new Error('rope: every sequence needs the same number of positions');
    // Identical sequences (no left padding) share one block, so the tables stay [T, h].
    if (rows.every((r) => r.every((p, t) => p === rows[0][t]))) rows = rows.slice(0, 1);
    this.blocks = rows.length;
    this.T = rows[0]?.length ?? 0;
    const half = rotaryDim / 2;
    const flat = rows.flat();
    const c = new Float32Array(flat.length * half), s = new Float32Array(flat.length * half);
    const inv = Array.from({ length: half }, (_, i) => Math.pow(theta, (-2 * i) / rotaryDim));
    flat.forEach((p, t) => {
      for (let i = 0; i < half; i++) {
        const ang = p * inv[i];
        c[t * half + i] = Math.cos(ang);
        s[t * half + i] = Math.sin(ang);
      }
    });
    const shape = [flat.length, half];
    this.cos = tensor(c, shape, { backend });
    this.sin = tensor(s, shape, { backend });
    this.sinHost = s;
  }

  /**
   * −sin for the backward pass (the inverse rotation), uploaded on first use. The backward pass
   * runs in a scope of its own that disposes it, so it is rebuilt if a later one needs it again.
   */
  negSin(): Tensor {
    if (!this.negSinT || this.negSinT.isDisposed) {
      this.negSinT = tensor(this.sinHost.map((v) => -v), this.sin.shape, { backend: this.backend });
    }
    return this.negSinT;
  }

  dispose(): void {
    this.cos.dispose();
    this.sin.dispose();
    if (this.negSinT && !this.negSinT.isDisposed) this.negSinT.dispose();
  }
}

/** cos/sin tables [...positions shape, D/2]: angle = pos · theta^(−2i/D) (see RopeTables for rope()'s own). */
export function ropeTables(positions: number[], dim: number, theta: number, like: Tensor): [Tensor, Tensor] {
  const t = new RopeTables(positions, dim, theta, like.backend);
  return [t.cos, t.sin];
}

/** One fused rotation of x [..., T, D] by the tables (sin = tables.sin forward, −sin backward). */
function ropeRaw(x: Tensor, tables: RopeTables, sin: Tensor, style: 'half' | 'interleaved'): Tensor {
  const T = x.shape[x.ndim - 2], D = x.shape[x.ndim - 1];
  const rows = T * D === 0 ? 0 : x.size / (T * D);
  return wrap(x.backend.run(routines.rope, x.storage, tables.cos.storage, sin.storage, rows, T, D, tables.rotaryDim, style, tables.blocks), x.shape);
}

/** Rotary position embedding of x [..., T, D]. */
export function rope(x: Tensor, opts: RopeOpts = {}): Tensor {
  expectFloat('rope', x);
  if (x.ndim < 2) throw new Error(`rope: expected [..., T, D], got ${x.describe()}`);
  const T = x.shape[x.ndim - 2], D = x.shape[x.ndim - 1];
  const rd = opts.tables?.rotaryDim ?? opts.rotaryDim ?? D;
  if (rd % 2 !== 0 || rd > D) throw new Error(`rope: rotary dimension ${rd} must be even and ≤ ${D}`);
  if (opts.rotaryDim !== undefined && opts.rotaryDim !== rd) {
    throw new Error(`rope: rotaryDim ${opts.rotaryDim} differs from the tables' ${rd}`);
  }
  let tables = opts.tables;
  const owned = !tables;
  if (!tables) {
    const pos = opts.positions ?? Array.from({ length: T }, (_, i) => i + (opts.offset ?? 0));
    const perBatch = Array.isArray(pos[0]);
    const rows = perBatch ? (pos as number[][]) : [pos as number[]];
    if (rows.some((r) => r.length !== T)) throw new Error(`rope: positions must have length T=${T} for ${x.describe()}`);
    if (perBatch && (x.ndim !== 4 || x.shape[0] !== rows.length)) {
      throw new Error(`rope: per-sequence positions need x [B=${rows.length}, H, T, D], got ${x.describe()}`);
    }
    tables = new RopeTables(pos, rd, opts.theta ?? 10000, x.backend);
  }
  sameBackend('rope', x, tables.cos);
  if (tables.T !== T) throw new Error(`rope: tables hold ${tables.T} positions, x ${x.describe()} has T=${T}`);
  if (tables.blocks > 1 && (x.ndim !== 4 || x.shape[0] !== tables.blocks)) {
    throw new Error(`rope: per-sequence tables need x [B=${tables.blocks}, H, T, D], got ${x.describe()}`);
  }
  const style = opts.style ?? 'half';
  const t = tables;
  const out = ropeRaw(x, t, t.sin, style);
  // The rotation is orthogonal: its transpose (the backward) is the rotation by −angle.
  const res = record(out, 'rope', [x], (g) => [ropeRaw(g, t, t.negSin(), style)]);
  if (owned && !out.requiresGrad) t.dispose(); // nothing else will read our own tables
  return res;
}

/** silu(gate) · up in one kernel (the SwiGLU MLP of Llama); gate and up of one shape. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  expectFloat('swiglu', gate, up);
  sameBackend('swiglu', gate, up);
  if (gate.ndim !== up.ndim || gate.shape.some((d, i) => d !== up.shape[i])) {
    throw new Error(`swiglu: gate ${gate.describe()} and up ${up.describe()} must have one shape`);
  }
  const out = wrap(gate.backend.run(routines.swiglu, gate.storage, up.storage), gate.shape);
  return record(out, 'swiglu', [gate, up], (g) => {
    // d/dgate = g·up·σ(gate)·(1 + gate·(1 − σ(gate))), d/dup = g·silu(gate).
    const s = sigmoid(gate);
    const silu = mul(gate, s);
    return [
      gate.requiresGrad ? mul(mul(g, up), mul(s, add(1, sub(gate, silu)))) : null,
      up.requiresGrad ? mul(g, silu) : null,
    ];
  });
}
