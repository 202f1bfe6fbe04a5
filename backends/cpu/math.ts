// Scalar definitions of every elementwise op: the reference the GPU kernels are tested against.
import type { Prim } from '../../kernels/expr.ts';

/** erf to ~1e-15 via the complementary-error continued fraction / series (Numerical Recipes erfc). */
export function erf(x: number): number {
  // Series for |x| < 2.5, continued fraction (Lentz) beyond: both converge to double precision.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x, sum = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + (n / 2) / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

export function softplus(x: number): number {
  // log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|).
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

type Fn = (...a: number[]) => number;

/** Every primitive of kernels/expr.ts on float64 values (f32 storages round once, on store). */
export const PRIM_F64: Record<Prim, Fn> = {
  neg: (x) => -x,
  abs: Math.abs,
  floor: Math.floor,
  exp: Math.exp,
  expm1: Math.expm1,
  log: Math.log,
  log1p: Math.log1p,
  sqrt: Math.sqrt,
  sigmoid,
  tanh: Math.tanh,
  erf,
  softplus,
  sin: Math.sin,
  cos: Math.cos,
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
  select: (c, a, b) => (c !== 0 ? a : b),
  to_f32: (x) => x,
  to_i32: (x) => Math.trunc(x) | 0, // ToInt32: NaN and ±inf give 0
};

/**
 * The primitives defined on i32, as WGSL computes them: arithmetic wraps, division truncates with
 * x / 0 = x. The rest of PRIM_F64 (comparisons, max, select) is exact on integers already.
 */
export const PRIM_I32: Partial<Record<Prim, Fn>> = {
  neg: (x) => -x | 0,
  abs: (x) => Math.abs(x) | 0,
  floor: (x) => x,
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: Math.imul,
  div: (a, b) => (b === 0 ? a : Math.trunc(a / b) | 0),
  pow: (a, b) => Math.pow(a, b) | 0,
  to_f32: (x) => x,
};
