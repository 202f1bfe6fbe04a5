// The former per-op backend calls (unary, binary, where) as programs of the one elementwise
// primitive, so the backend suites keep their cases: old op names map to op-table expressions;
// float-only ops on i32 run in f32 and convert back with ToInt32 (what the old i32 kernels did).
import type { Backend, Storage, View } from '../../backends/backend.ts';
import { binaryOps, unaryOps } from '../../engine/ops/op-table.ts';
import * as E from '../../kernels/expr.ts';

const UNARY: Record<string, (x: E.Expr) => E.Expr> = {
  ...Object.fromEntries(Object.entries(unaryOps).map(([k, e]) => [k, e.f as (x: E.Expr) => E.Expr])),
  recip: unaryOps.reciprocal.f, step: (x) => E.gt(x, 0), cast_f32: E.toF32, cast_i32: E.toI32,
};
const BINARY: Record<string, (a: E.Expr, b: E.Expr) => E.Expr> = Object.fromEntries(
  Object.entries(binaryOps).map(([k, e]) => [k, e.f as (a: E.Expr, b: E.Expr) => E.Expr]));

export type UnaryName = keyof typeof unaryOps | 'recip' | 'step' | 'cast_f32' | 'cast_i32';
export type BinaryName = keyof typeof binaryOps;

export function unaryExpr(op: UnaryName, x: E.Expr): E.Expr {
  try {
    return UNARY[op](x);
  } catch (e) {
    if (x.t !== 'i32') throw e;
    return E.toI32(UNARY[op](E.toF32(x)));
  }
}

export function unary(b: Backend, op: UnaryName, x: Storage): Storage {
  const t = x.dtype as E.ScalarType;
  return b.elementwise(E.program([unaryExpr(op, E.input(0, t))], [t]), [{ storage: x, offset: 0, strides: [1] }], [x.size])[0];
}

export function binary(b: Backend, op: BinaryName, x: View, y: View, shape: number[], t = x.storage.dtype as E.ScalarType): Storage {
  return b.elementwise(E.program([BINARY[op](E.input(0, t), E.input(1, t))], [t, t]), [x, y], shape)[0];
}

export function where(b: Backend, c: View, x: View, y: View, shape: number[]): Storage {
  const [tc, t] = [c.storage.dtype as E.ScalarType, x.storage.dtype as E.ScalarType];
  return b.elementwise(E.program([E.select(E.input(0, tc), E.input(1, t), E.input(2, t))], [tc, t, t]), [c, x, y], shape)[0];
}
