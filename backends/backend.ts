// The Backend interface: the only thing the engine knows about where numbers live.
//
// A backend stores flat, contiguous arrays (Storage) and runs primitives on them. Shapes,
// broadcasting, autodiff and views belong to the engine; a backend sees sizes and strides.
// Every primitive returns a fresh Storage; the engine frees storages it no longer needs.
// A backend may run work lazily (the WebGPU backend records dispatches and submits them
// when a value is read), so `read` is the only async primitive.

export type DType = 'f32' | 'i32' | 'f16';

export const dtypeBytes: Record<DType, number> = { f32: 4, i32: 4, f16: 2 };

/** Argument check of Backend.rope shared by the backends (sizes in elements). */
export function checkRope(xSize: number, cosSize: number, sinSize: number, rows: number, T: number, D: number,
  rotaryDim: number, tableBlocks: number): void {
  const ints = [rows, T, D, rotaryDim, tableBlocks];
  if (ints.some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`rope: sizes [${ints}] must be non-negative integers`);
  if (rotaryDim % 2 !== 0 || rotaryDim > D) throw new Error(`rope: rotaryDim ${rotaryDim} must be even and ≤ D = ${D}`);
  if (xSize !== rows * T * D) throw new Error(`rope: x holds ${xSize} elements, [rows, T, D] = [${rows}, ${T}, ${D}] needs ${rows * T * D}`);
  if (tableBlocks < 1 || rows % tableBlocks !== 0) throw new Error(`rope: tableBlocks ${tableBlocks} must divide rows ${rows}`);
  const need = tableBlocks * T * (rotaryDim / 2);
  if (cosSize !== need || sinSize !== need) throw new Error(`rope: cos/sin hold ${cosSize}/${sinSize} elements, expected [${tableBlocks}·${T}, ${rotaryDim / 2}] = ${need}`);
}

/** Argument check of Backend.tokenLogprobs / tokenLogprobsBackward shared by the backends (sizes in elements). */
export function checkTokenLogprobs(op: string, logits: Storage, targets: Storage, rows: number, cols: number,
  ignoreIndex: number | null, rowVectors: [string, Storage][] = []): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new Error(`${op}: [rows, cols] = [${rows}, ${cols}] must be non-negative integers`);
  }
  if (logits.dtype !== 'f32') throw new Error(`${op}: logits must be f32, got ${logits.dtype}`);
  if (logits.size !== rows * cols) throw new Error(`${op}: logits hold ${logits.size} elements, [rows, cols] = [${rows}, ${cols}] needs ${rows * cols}`);
  if (targets.dtype !== 'i32' || targets.size !== rows) throw new Error(`${op}: targets must be i32 [${rows}], got ${targets.dtype} [${targets.size}]`);
  for (const [f, s] of rowVectors) {
    if (s.dtype !== 'f32' || s.size !== rows) throw new Error(`${op}: ${f} must be f32 [${rows}], got ${s.dtype} [${s.size}]`);
  }
  if (ignoreIndex !== null && (!Number.isInteger(ignoreIndex) || ignoreIndex < -(2 ** 31) || ignoreIndex >= 2 ** 31)) {
    throw new Error(`${op}: ignoreIndex ${ignoreIndex} must be a 32-bit integer or null`);
  }
}

/** Argument check of Backend.loraLinear shared by the backends. */
export function checkLoraLinear(x: Storage, w: Storage, bias: Storage | null, a: Storage, b: Storage, scale: number,
  M: number, N: number, K: number, r: number): void {
  if ([M, N, K].some((v) => !Number.isInteger(v) || v < 0)) throw new Error(`loraLinear: sizes [M, N, K] = [${M}, ${N}, ${K}] must be non-negative integers`);
  if (!Number.isInteger(r) || r < 1) throw new Error(`loraLinear: rank r = ${r} must be an integer ≥ 1`);
  if (!Number.isFinite(scale)) throw new Error(`loraLinear: scale ${scale} must be finite`);
  const want: [string, Storage | null, number, string][] = [
    ['x', x, M * K, `[M, K] = [${M}, ${K}]`], ['w', w, N * K, `[N, K] = [${N}, ${K}]`], ['bias', bias, N, `[N] = [${N}]`],
    ['a', a, r * K, `[r, K] = [${r}, ${K}]`], ['b', b, N * r, `[N, r] = [${N}, ${r}]`],
  ];
  for (const [f, s, n, shape] of want) {
    if (!s) continue;
    if (s.dtype !== 'f32') throw new Error(`loraLinear: ${f} must be f32, got ${s.dtype}`);
    if (s.size !== n) throw new Error(`loraLinear: ${f} holds ${s.size} elements, ${shape} needs ${n}`);
  }
}

/** Next-token sampling settings of Backend.sampleTokens (temperature 0: greedy). */
export interface SampleParams {
  temperature: number;
  /** 0: off. */
  topK: number;
  /** 1: off. */
  topP: number;
}

/** Argument check of Backend.sampleTokens shared by the backends. */
export function checkSample(logits: Storage, uniforms: Storage, rows: number, cols: number, p: SampleParams): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) throw new Error(`sampleTokens: [rows, cols] = [${rows}, ${cols}] must be integers, rows ≥ 0, cols ≥ 1`);
  if (logits.dtype !== 'f32' || logits.size !== rows * cols) throw new Error(`sampleTokens: logits must be f32 [${rows}, ${cols}], got ${logits.dtype} with ${logits.size} elements`);
  if (uniforms.dtype !== 'f32' || uniforms.size !== rows) throw new Error(`sampleTokens: uniforms must be f32 [${rows}], got ${uniforms.dtype} with ${uniforms.size} elements`);
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature)) throw new Error(`sampleTokens: temperature ${p.temperature} must be finite and ≥ 0`);
  if (!Number.isInteger(p.topK) || p.topK < 0) throw new Error(`sampleTokens: topK ${p.topK} must be an integer ≥ 0`);
  if (!(p.topP > 0 && p.topP <= 1)) throw new Error(`sampleTokens: topP ${p.topP} must lie in (0, 1]`);
}

/** The per-token GRPO objective of Backend.grpoObjective (kernels/grpo-objective.ts). */
export interface GrpoObjectiveParams {
  B: number;
  T: number;
  /** Importance sampling per sequence (GSPO) instead of per token. */
  sequence: boolean;
  /** CISPO's −sg(min(ρ, ε_high))·A·logp instead of the clipped surrogate. */
  cispo: boolean;
  epsLow: number;
  epsHigh: number;
  /** Cap on the unclipped ratio, null: none. */
  delta: number | null;
  /** KL coefficient; ref is read only when β ≠ 0. */
  beta: number;
}

/** Argument check of Backend.grpoObjective / grpoObjectiveBackward shared by the backends. */
export function checkGrpoObjective(op: string, t: Record<string, Storage | null>, p: GrpoObjectiveParams): void {
  if (!Number.isInteger(p.B) || p.B < 0 || !Number.isInteger(p.T) || p.T < 0) throw new Error(`${op}: [B, T] = [${p.B}, ${p.T}] must be non-negative integers`);
  for (const k of ['epsLow', 'epsHigh', 'beta'] as const) if (!Number.isFinite(p[k])) throw new Error(`${op}: ${k} ${p[k]} must be finite`);
  if (p.delta !== null && !Number.isFinite(p.delta)) throw new Error(`${op}: delta ${p.delta} must be finite or null`);
  if (p.beta !== 0 && !t.ref) throw new Error(`${op}: beta ≠ 0 needs ref`);
  for (const [f, s] of Object.entries(t)) {
    if (!s) continue;
    const n = f === 'adv' ? p.B : f === 'stats' ? p.B * p.T * 3 : p.B * p.T;
    if (s.dtype !== 'f32' || s.size !== n) throw new Error(`${op}: ${f} must be f32 with ${n} elements, got ${s.dtype} with ${s.size}`);
  }
}

export interface Storage {
  readonly backend: Backend;
  readonly size: number; // elements
  readonly dtype: DType;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'sign' | 'sigmoid' | 'tanh' | 'relu'
  | 'silu' | 'gelu_tanh' | 'gelu_erf' | 'softplus' | 'logsigmoid' | 'square' | 'recip'
  | 'sin' | 'cos' | 'step' /* x > 0 ? 1 : 0 */ | 'erf' | 'floor' | 'cast_f32' | 'cast_i32';

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

export type ReduceOp = 'sum' | 'max' | 'min';

/** Rotary pairing: 'half' rotates (i, i + d/2) (Hugging Face Llama), 'interleaved' (2i, 2i + 1) (GPT-J, llama2.c). */
export type RopeStyle = 'half' | 'interleaved';

/** A strided window onto a storage: element i (multi-index idx) lives at offset + Σ idx[d]·strides[d]. */
export interface View {
  storage: Storage;
  offset: number;
  strides: number[]; // one per output dimension; 0 broadcasts
}

export interface MatmulParams {
  batch: number; // number of independent products
  m: number;
  n: number;
  k: number;
  transA: boolean; // A stored [k, m] instead of [m, k]
  transB: boolean; // B stored [n, k] instead of [k, n]
  aBatchStride: number; // elements between consecutive A matrices (0 broadcasts)
  bBatchStride: number;
}

/** Hyperparameters of one fused AdamW step (PyTorch's AdamW; `step` counts from 1). */
export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/** Argument check of Backend.adamw shared by the backends. */
export function checkAdamW(p: Storage, g: Storage, m: Storage, v: Storage, o: AdamWParams): void {
  for (const [f, s] of [['p', p], ['g', g], ['m', m], ['v', v]] as const) {
    if (s.dtype !== 'f32') throw new Error(`adamw: ${f} must be f32, got ${s.dtype}`);
    if (s.size !== p.size) throw new Error(`adamw: p, g, m, v must hold one size, got p ${p.size}, ${f} ${s.size}`);
  }
  if (new Set([p, g, m, v]).size !== 4) throw new Error('adamw: p, g, m and v must be four distinct storages');
  if (!Number.isInteger(o.step) || o.step < 1) throw new Error(`adamw: step ${o.step} must be an integer ≥ 1`);
  for (const k of ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'] as const) {
    if (!Number.isFinite(o[k])) throw new Error(`adamw: ${k} ${o[k]} must be finite`);
  }
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) throw new Error(`adamw: betas (${o.beta1}, ${o.beta2}) must lie in [0, 1)`);
}

/** The per-step scalars of the update, computed in float64 on the host. */
export function adamwScalars(o: AdamWParams) {
  const c1 = 1 - Math.pow(o.beta1, o.step), c2 = 1 - Math.pow(o.beta2, o.step);
  return { decay: 1 - o.lr * o.weightDecay, stepSize: o.lr / c1, sqrtC2: Math.sqrt(c2) };
}

/**
 * One fused causal attention call: q [B, H, T, D], k, v [B, KV, S, D], f32, contiguous; H % KV = 0
 * and query head h reads kv head floor(h / (H / KV)) (GQA without repeating k/v).
 * Query t sits at absolute position past + t and sees key s when s ≤ past + t and, with segment ids
 * segQ i32 [B, T] / segK i32 [B, S], segK[b, s] == segQ[b, t] (padding, packed sequences).
 */
export interface AttentionParams {
  B: number;
  H: number;
  KV: number;
  T: number;
  S: number;
  D: number;
  scale: number;
  past: number;
}

/** Argument check of Backend.attentionForward/attentionBackward shared by the backends. */
export function checkAttention(op: string, p: AttentionParams, t: Record<string, Storage | null>): void {
  const ints = [p.B, p.H, p.KV, p.T, p.S, p.D, p.past];
  if (ints.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`${op}: [B, H, KV, T, S, D, past] = [${ints}] must be non-negative integers`);
  }
  if (p.D === 0) throw new Error(`${op}: head dim D must be at least 1`);
  if (p.KV === 0 ? p.H !== 0 : p.H % p.KV !== 0) throw new Error(`${op}: query heads H = ${p.H} must be a multiple of kv heads KV = ${p.KV}`);
  if (!Number.isFinite(p.scale)) throw new Error(`${op}: scale ${p.scale} must be finite`);
  const sizes: Record<string, [number, number[], DType]> = {
    q: [p.B * p.H * p.T * p.D, [p.B, p.H, p.T, p.D], 'f32'], out: [p.B * p.H * p.T * p.D, [p.B, p.H, p.T, p.D], 'f32'],
    dOut: [p.B * p.H * p.T * p.D, [p.B, p.H, p.T, p.D], 'f32'], lse: [p.B * p.H * p.T, [p.B, p.H, p.T], 'f32'],
    k: [p.B * p.KV * p.S * p.D, [p.B, p.KV, p.S, p.D], 'f32'], v: [p.B * p.KV * p.S * p.D, [p.B, p.KV, p.S, p.D], 'f32'],
    segQ: [p.B * p.T, [p.B, p.T], 'i32'], segK: [p.B * p.S, [p.B, p.S], 'i32'],
  };
  for (const [f, s] of Object.entries(t)) {
    if (!s) continue;
    const [n, shape, dtype] = sizes[f];
    if (s.dtype !== dtype || s.size !== n) {
      throw new Error(`${op}: ${f} must be ${dtype} [${shape.join(', ')}] (${n} elements), got ${s.dtype} with ${s.size} elements`);
    }
  }
  if (('segQ' in t || 'segK' in t) && !t.segQ !== !t.segK) throw new Error(`${op}: segQ and segK come together (both or neither)`);
}

export interface MemoryStats {
  liveBuffers: number; // storages handed out and not yet freed
  liveBytes: number;
  /** The most liveBytes ever held at once since the backend was created. */
  peakLiveBytes: number;
  pooledBuffers: number; // freed buffers kept for reuse (GPU)
  pooledBytes: number;
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** Human-readable device description (adapter name, or "cpu (float64)"). */
  readonly description: string;
  /** f32 storages hold float64 on the cpu backend in f64 mode (gradient checks). */
  readonly precision: 'f32' | 'f64';

  upload(data: ArrayLike<number>, dtype: DType): Storage;
  fill(size: number, value: number, dtype: DType): Storage;
  read(s: Storage): Promise<Float32Array | Float64Array | Int32Array>;
  free(s: Storage): void;

  /** out[i] = op(x[i]); cast ops change the dtype. */
  unary(op: UnaryOp, x: Storage): Storage;
  /** Elementwise over outShape with strided/broadcast inputs; comparisons give 0/1 in a's dtype. */
  binary(op: BinaryOp, a: View, b: View, outShape: number[]): Storage;
  /** out = cond != 0 ? a : b, all three as views over outShape. */
  where(cond: View, a: View, b: View, outShape: number[]): Storage;
  /** Materialise a strided view as a contiguous array of outShape (transpose, slice, expand). */
  copy(src: View, outShape: number[]): Storage;
  /** Write contiguous src (shape `shape`) into dst through a strided window (concat, pad). Mutates dst. */
  copyInto(dst: View, src: Storage, shape: number[]): void;
  /** x viewed as [outer, r, inner]; reduce over r → [outer, inner]. */
  reduce(op: ReduceOp, x: Storage, outer: number, r: number, inner: number): Storage;
  /**
   * One token per row of logits [rows, cols] (kernels/sample.ts): greedy at temperature 0, else the
   * inverse CDF at uniforms[r] ∈ [0, 1) over the tokens top-k and top-p keep, in index order → i32 [rows].
   */
  sampleTokens(logits: Storage, uniforms: Storage, rows: number, cols: number, p: SampleParams): Storage;
  /** Index of the max over r for x viewed as [outer, r, inner] → i32 [outer, inner]. */
  argmax(x: Storage, outer: number, r: number, inner: number): Storage;
  /** C[b] = op(A[b]) · op(B[b]) → [batch, m, n]. */
  matmul(a: Storage, b: Storage, p: MatmulParams): Storage;
  /**
   * LoRA linear in one pass over x (kernels/lora-linear.ts): x [M, K], w [N, K], bias [N] or null,
   * a [r, K] (lora_A), b [N, r] (lora_B) →
   *   y [M, N] = x·wᵀ + bias + scale·(x·aᵀ)·bᵀ,  xa [M, r] = x·aᵀ (the backward needs it for d b).
   */
  loraLinear(x: Storage, w: Storage, bias: Storage | null, a: Storage, b: Storage, scale: number,
    M: number, N: number, K: number, r: number): { y: Storage; xa: Storage };
  /** out[i, :] = table[idx[i], :] for table [rows, cols] → [n, cols]. Out-of-range indices are an error the engine checks. */
  gather(table: Storage, idx: Storage, rows: number, cols: number): Storage;
  /** out[rows, cols] = zeros; out[idx[i], :] += src[i, :] (embedding backward). */
  scatterAdd(src: Storage, idx: Storage, rows: number, cols: number): Storage;
  /** x [rows, cols] → softmax (or log-softmax) over cols. */
  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage;
  /** logsumexp over cols of x [rows, cols] → [rows]. */
  logsumexp(x: Storage, rows: number, cols: number): Storage;
  /**
   * Log-probability of each row's target under a softmax over cols, in one read of the row:
   *   logits [rows, cols] f32, targets [rows] i32 →
   *   logp [rows] = logits[r, t_r] − lse_r (0 where t_r == ignoreIndex),  lse [rows] = logsumexp_c logits[r, c].
   * ignoreIndex null: no target is ignored. A target outside [0, cols) that is not ignored is an
   * error on cpu and gives NaN on webgpu (the engine range-checks targets whose values it knows).
   */
  tokenLogprobs(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number | null): { logp: Storage; lse: Storage };
  /**
   * Backward of tokenLogprobs, written straight into one [rows, cols] buffer:
   *   dlogits[r, c] = g_r · (onehot(t_r)[c] − exp(logits[r, c] − lse_r)),  zeros on ignored rows.
   * lse is tokenLogprobs' lse, gradLogp [rows] the incoming gradient g.
   */
  tokenLogprobsBackward(logits: Storage, targets: Storage, lse: Storage, gradLogp: Storage, rows: number, cols: number,
    ignoreIndex: number | null): Storage;
  /**
   * The per-token GRPO objective over [B, T] log-probs (kernels/grpo-objective.ts has the formulas):
   * logp, old, mask, emask (null: 1) [B, T], ref [B, T] (null when β = 0), adv [B] →
   * loss [B, T] (masked per-token loss), stats [B, T, 3] (low clip, high clip, kl per token).
   */
  grpoObjective(logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null,
    p: GrpoObjectiveParams): { loss: Storage; stats: Storage };
  /** d Σ(grad · loss) / d logp [B, T] of grpoObjective, grad [B, T]. */
  grpoObjectiveBackward(logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null,
    grad: Storage, p: GrpoObjectiveParams): Storage;
  /**
   * RMSNorm over cols of x [rows, cols]: y[r, c] = x[r, c] · rsqrt(mean_c x[r, :]² + eps) · w[c],
   * weight [cols] or null (1). → [rows, cols] f32.
   */
  rmsNorm(x: Storage, weight: Storage | null, rows: number, cols: number, eps: number): Storage;
  /**
   * Rotary embedding of x viewed as [rows, T, D] (rows = product of the leading dims) → same shape.
   * cos/sin hold [tableBlocks · T, rotaryDim / 2] values; row r uses table block
   * floor(r / (rows / tableBlocks)) (default 1: one table for all rows; B for x [B, H, T, D]
   * with per-sequence positions). With h = rotaryDim / 2 and i < h, pair (a, b) =
   *   'half':        (x[i], x[i + h])      'interleaved': (x[2i], x[2i + 1])
   * becomes (a·cos − b·sin, b·cos + a·sin); features ≥ rotaryDim are copied unchanged.
   */
  rope(x: Storage, cos: Storage, sin: Storage, rows: number, T: number, D: number, rotaryDim: number,
    style: RopeStyle, tableBlocks?: number): Storage;
  /** out[i] = silu(gate[i]) · up[i] = gate[i] · σ(gate[i]) · up[i], both contiguous of equal size. */
  swiglu(gate: Storage, up: Storage): Storage;
  /**
   * Fused causal attention (AttentionParams has the shapes and the mask), never materialising the
   * [T, S] scores: out [B, H, T, D] = softmax(scale · q kᵀ + mask) v and lse [B, H, T], the
   * logsumexp of each masked, scaled score row (kept for the backward). A query that sees no key
   * gets out = 0 and lse = −inf. segQ/segK: both or neither (null: causal only).
   */
  attentionForward(q: Storage, k: Storage, v: Storage, segQ: Storage | null, segK: Storage | null,
    p: AttentionParams): { out: Storage; lse: Storage };
  /**
   * Gradients of attentionForward given its out and lse and the output gradient dOut [B, H, T, D]:
   * dq [B, H, T, D], and dk, dv [B, KV, S, D] summed over the query heads of each kv head.
   */
  attentionBackward(q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, dOut: Storage,
    segQ: Storage | null, segK: Storage | null, p: AttentionParams): { dq: Storage; dk: Storage; dv: Storage };
  /**
   * One fused AdamW step over contiguous f32 storages of equal size, updating p, m and v IN PLACE:
   *   p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
   *   p ← p − (lr / c1)·m / (√v / √c2 + eps),  c1 = 1 − β1^step, c2 = 1 − β2^step.
   * Mutates p, m, v (like copyInto); g is only read. The four storages must be distinct.
   */
  adamw(p: Storage, g: Storage, m: Storage, v: Storage, o: AdamWParams): void;

  memoryStats(): MemoryStats;
  /** Wait for queued work (a no-op on cpu). */
  sync(): Promise<void>;
  destroy(): void;
}
