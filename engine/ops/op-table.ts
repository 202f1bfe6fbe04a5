// The elementwise op table: one entry per op, and everything else follows from it.
//   f       the forward, as an expression of the inputs (kernels/expr.ts) → the WGSL kernel and the
//           cpu evaluation (both backends evaluate expressions);
//   d       the partial derivatives ∂y/∂input as expressions of the inputs and the output y (null:
//           the op has no gradient) → the VJP, one dispatch g·∂y/∂x for every input needing it;
//   domain  where the tests draw each input from; tol: the test tolerances (defaults in tests);
//   ints    the op is defined on i32 tensors too (integer-exact; else float only).
// The engine function, the fluent Tensor method (same name) and the test spec
// (tests/core/ops/specs.ts) are made for every key. Adding an op is one entry here.
import { expr as X } from '../../backends/backend.ts';

type Arg = X.Arg; type Expr = X.Expr;

export interface Domain { lo: number; hi: number; kind?: 'float' | 'int' | 'mask' }
export interface Tol { atol?: number; rtol?: number; gradTol?: number }
interface Common { tol?: Tol; ints?: true }

export interface UnaryEntry extends Common {
  f: (x: Expr) => Expr;
  d: ((x: Expr, y: Expr) => [Arg]) | null;
  domain: Domain;
}
export interface BinaryEntry extends Common {
  f: (a: Expr, b: Expr) => Expr;
  d: ((a: Expr, b: Expr, y: Expr) => [Arg, Arg]) | null;
  domain: [Domain, Domain];
}
export interface TernaryEntry extends Common {
  f: (c: Expr, a: Expr, b: Expr) => Expr;
  /** The first input is a condition: it never gets a gradient. */
  d: ((c: Expr, a: Expr, b: Expr, y: Expr) => [null, Arg, Arg]) | null;
  domain: [Domain, Domain, Domain];
}

const real: Domain = { lo: -4, hi: 4 };
const pos: Domain = { lo: 0.2, hi: 3 };
const any2: Domain = { lo: -2, hi: 2 };
const ints: Domain = { kind: 'int', lo: -2, hi: 3 };
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const LN2 = Math.LN2;

const geluTanhInner = (x: Expr) => X.mul(X.add(x, X.mul(X.mul(X.mul(x, x), x), 0.044715)), SQRT_2_OVER_PI);
const step = (x: Expr) => X.gt(x, 0);

export const unaryOps = {
  neg: { f: X.neg, d: () => [-1], domain: real, ints: true },
  exp: { f: X.exp, d: (_, y) => [y], domain: real },
  log: { f: X.log, d: (x) => [X.div(1, x)], domain: pos },
  sqrt: { f: X.sqrt, d: (_, y) => [X.div(0.5, y)], domain: pos },
  rsqrt: { f: (x) => X.div(1, X.sqrt(x)), d: (_, y) => [X.mul(X.mul(X.mul(y, y), y), -0.5)], domain: pos },
  abs: { f: X.abs, d: (x) => [X.sub(X.gt(x, 0), X.lt(x, 0))], domain: real, ints: true },
  sign: { f: (x) => X.sub(X.gt(x, 0), X.lt(x, 0)), d: null, domain: real, ints: true },
  floor: { f: X.floor, d: null, domain: real, ints: true },
  square: { f: (x) => X.mul(x, x), d: (x) => [X.mul(x, 2)], domain: real },
  reciprocal: { f: (x) => X.div(1, x), d: (_, y) => [X.neg(X.mul(y, y))], domain: pos },
  sin: { f: X.sin, d: (x) => [X.cos(x)], domain: real },
  cos: { f: X.cos, d: (x) => [X.neg(X.sin(x))], domain: real },
  erf: { f: X.erf, d: (x) => [X.mul(X.exp(X.neg(X.mul(x, x))), 2 / Math.sqrt(Math.PI))], domain: real },
  sigmoid: { f: X.sigmoid, d: (_, y) => [X.mul(y, X.sub(1, y))], domain: real },
  tanh: { f: X.tanh, d: (_, y) => [X.sub(1, X.mul(y, y))], domain: real },
  relu: { f: (x) => X.select(step(x), x, 0), d: (x) => [step(x)], domain: real },
  softplus: { f: X.softplus, d: (x) => [X.sigmoid(x)], domain: real },
  /** log σ(x) = −softplus(−x), stable for large |x|. */
  logsigmoid: { f: (x) => X.neg(X.softplus(X.neg(x))), d: (x) => [X.sigmoid(X.neg(x))], domain: real },
  /** x·σ(x); d/dx = σ(x)·(1 + x·(1 − σ(x))). */
  silu: {
    f: (x) => X.mul(x, X.sigmoid(x)),
    d: (x) => { const s = X.sigmoid(x); return [X.mul(s, X.add(1, X.mul(x, X.sub(1, s))))]; },
    domain: real,
  },
  /** GELU, exact: x·Φ(x); d/dx = Φ(x) + x·φ(x). */
  gelu_erf: {
    f: (x) => X.mul(X.mul(x, 0.5), X.add(1, X.erf(X.mul(x, Math.SQRT1_2)))),
    d: (x) => [X.add(X.mul(X.add(X.erf(X.mul(x, Math.SQRT1_2)), 1), 0.5), X.mul(x, X.mul(X.exp(X.mul(X.mul(x, x), -0.5)), INV_SQRT_2PI)))],
    domain: real,
  },
  /** GELU, tanh approximation (GPT-2, Gemma): 0.5x(1 + tanh u), u = √(2/π)(x + 0.044715x³). */
  gelu_tanh: {
    f: (x) => X.mul(X.mul(x, 0.5), X.add(1, X.tanh(geluTanhInner(x)))),
    d: (x) => {
      const t = X.tanh(geluTanhInner(x));
      const du = X.mul(X.add(X.mul(X.mul(x, x), 3 * 0.044715), 1), SQRT_2_OVER_PI);
      return [X.add(X.mul(X.add(t, 1), 0.5), X.mul(X.mul(X.mul(x, 0.5), X.sub(1, X.mul(t, t))), du))];
    },
    domain: real,
  },
  /** Mish (Misra 2019): x·tanh(softplus(x)); d/dx = t + x·(1 − t²)·σ(x), t = tanh(softplus(x)). */
  mish: {
    f: (x) => X.mul(x, X.tanh(X.softplus(x))),
    d: (x) => { const t = X.tanh(X.softplus(x)); return [X.add(t, X.mul(X.mul(x, X.sub(1, X.mul(t, t))), X.sigmoid(x)))]; },
    domain: real,
  },
  /**
   * Hardswish (MobileNetV3): x·relu6(x + 3)/6. Derivative as PyTorch's hardswish_backward:
   * 0 below −3, x/3 + 1/2 on [−3, 3], 1 above.
   */
  hardswish: {
    f: (x) => X.div(X.mul(x, X.min(X.max(X.add(x, 3), 0), 6)), 6),
    d: (x) => [X.select(X.lt(x, -3), 0, X.select(X.le(x, 3), X.add(X.div(x, 3), 0.5), 1))],
    domain: { lo: -5, hi: 5 },
  },
  /**
   * log(1 − eˣ) for x ≤ 0 (ORPO's log-odds), stable at both ends (Mächler 2012): log(−expm1(x))
   * above −ln 2, log1p(−eˣ) below. d/dx = −eˣ/(1 − eˣ) = −exp(x − y).
   */
  log1mexp: {
    f: (x) => X.select(X.gt(x, -LN2), X.log(X.neg(X.expm1(x))), X.log1p(X.neg(X.exp(x)))),
    d: (x, y) => [X.neg(X.exp(X.sub(x, y)))],
    domain: { lo: -6, hi: -0.05 },
  },
} satisfies Record<string, UnaryEntry>;

export const binaryOps = {
  add: { f: X.add, d: () => [1, 1], domain: [any2, any2], ints: true },
  sub: { f: X.sub, d: () => [1, -1], domain: [any2, any2], ints: true },
  mul: { f: X.mul, d: (a, b) => [b, a], domain: [any2, any2], ints: true },
  div: { f: X.div, d: (_, b, y) => [X.div(1, b), X.neg(X.div(y, b))], domain: [any2, { lo: 0.5, hi: 2 }], ints: true },
  pow: {
    f: X.pow, d: (a, b, y) => [X.mul(b, X.pow(a, X.sub(b, 1))), X.mul(y, X.log(a))], domain: [pos, { lo: -1.5, hi: 1.5 }], ints: true,
  },
  /** maximum/minimum: on ties the gradient is split evenly, as PyTorch does. */
  maximum: {
    f: X.max, d: (a, b) => { const w = X.add(X.gt(a, b), X.mul(X.eq(a, b), 0.5)); return [w, X.sub(1, w)]; },
    domain: [any2, any2], ints: true,
  },
  minimum: {
    f: X.min, d: (a, b) => { const w = X.add(X.lt(a, b), X.mul(X.eq(a, b), 0.5)); return [w, X.sub(1, w)]; },
    domain: [any2, any2], ints: true,
  },
  // Comparisons: 0/1 in the inputs' type, no gradient.
  eq: { f: X.eq, d: null, domain: [ints, ints], ints: true },
  ne: { f: X.ne, d: null, domain: [ints, ints], ints: true },
  lt: { f: X.lt, d: null, domain: [ints, ints], ints: true },
  le: { f: X.le, d: null, domain: [ints, ints], ints: true },
  gt: { f: X.gt, d: null, domain: [ints, ints], ints: true },
  ge: { f: X.ge, d: null, domain: [ints, ints], ints: true },
} satisfies Record<string, BinaryEntry>;

export const ternaryOps = {
  /** cond ? a : b (cond of either type, nonzero is true). */
  where: {
    f: X.select, d: (c) => [null, X.select(c, 1, 0), X.select(c, 0, 1)],
    domain: [{ kind: 'mask', lo: 0, hi: 1 }, any2, any2], ints: true,
  },
} satisfies Record<string, TernaryEntry>;

export type UnaryName = keyof typeof unaryOps;
export type BinaryName = keyof typeof binaryOps;
export type TernaryName = keyof typeof ternaryOps;
