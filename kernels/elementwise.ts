// The elementwise kernel: one dispatch evaluates a Program (expr.ts) at every index of outShape.
//   out_j[i] = output j of the program, with input k read as X_k[view k of i] (strided, stride 0
//   broadcasts), for i < n = numel(outShape); outputs are contiguous [n].
// Bindings: 0..K−1 inputs X_k (read), K..K+M−1 outputs Y_j (read_write), then the uniform
// (stridedOffsets over views v0..v{K−1}). Dispatch: ceil(n / 256) workgroups, folded.
// vec4 variant: every view walks its innermost dim contiguously and 16-byte aligned (the backend's
// vec4Views); shapes, strides and offsets then count vec4s and each thread does 4 elements.
// Broadcast scalars (all strides 0) may join a vec4 kernel: they stay arrays of scalars, and their
// offset counts elements.
//
// f32 functions use math.ts's helpers; those whose builtins do not promise NaN in → NaN out
// (SwiftShader's exp(NaN) is inf) are guarded, so every backend propagates NaN as the cpu does.
// i32 arithmetic wraps, x / 0 = x (WGSL's rule, mirrored by the cpu backend).
import type { Node, Prim, Program, ScalarType } from './expr.ts';
import { MATH_F32, MATH_I32 } from './math.ts';
import { entry1d, type Kernel, NONFINITE, stridedOffsets, uniformBlock } from './wgsl.ts';

type Emit = (a: string[]) => string;
const nanSafe = (e: string, x: string) => `select(${e}, ${x}, is_nan_(${x}))`;
const cmp = (op: string, zero: string, one: string): Emit => ([a, b]) => `select(${zero}, ${one}, ${a} ${op} ${b})`;

/** WGSL of every primitive on f32 arguments. */
const F32: Record<Prim, Emit> = {
  neg: ([a]) => `(-${a})`,
  abs: ([a]) => `abs(${a})`,
  floor: ([a]) => nanSafe(`floor(${a})`, a),
  exp: ([a]) => nanSafe(`exp(${a})`, a),
  expm1: ([a]) => nanSafe(`expm1_(${a})`, a),
  log: ([a]) => `log_(${a})`,
  log1p: ([a]) => nanSafe(`log1p_(${a})`, a),
  sqrt: ([a]) => `select(select(sqrt(${a}), f32_nan(), ${a} < 0.0), ${a}, is_nan_(${a}))`,
  sigmoid: ([a]) => nanSafe(`sigmoid_(${a})`, a),
  tanh: ([a]) => nanSafe(`tanh_(${a})`, a),
  erf: ([a]) => nanSafe(`erf_(${a})`, a),
  softplus: ([a]) => nanSafe(`softplus_(${a})`, a),
  sin: ([a]) => nanSafe(`sin_(${a})`, a),
  cos: ([a]) => nanSafe(`cos_(${a})`, a),
  add: ([a, b]) => `(${a} + ${b})`,
  sub: ([a, b]) => `(${a} - ${b})`,
  mul: ([a, b]) => `(${a} * ${b})`,
  div: ([a, b]) => `(${a} / ${b})`,
  pow: ([a, b]) => `pow_(${a}, ${b})`,
  // NaN-propagating, like the cpu backend (WGSL max/min leave NaN implementation-defined).
  max: ([a, b]) => `select(max(${a}, ${b}), f32_nan(), is_nan_(${a}) || is_nan_(${b}))`,
  min: ([a, b]) => `select(min(${a}, ${b}), f32_nan(), is_nan_(${a}) || is_nan_(${b}))`,
  eq: cmp('==', '0.0', '1.0'),
  ne: ([a, b]) => `select(1.0, 0.0, ${a} == ${b})`, // NaN ≠ NaN; some drivers compile != as ordered
  lt: cmp('<', '0.0', '1.0'),
  le: cmp('<=', '0.0', '1.0'),
  gt: cmp('>', '0.0', '1.0'),
  ge: cmp('>=', '0.0', '1.0'),
  select: () => { throw new Error('select is emitted by selectOf'); },
  to_f32: ([a]) => `f32(${a})`,
  to_i32: ([a]) => `to_i32_(${a})`,
};

/** WGSL of the primitives defined on i32 (PRIMS' second column); exact integer arithmetic. */
const I32: Partial<Record<Prim, Emit>> = {
  neg: ([a]) => `(-${a})`,
  abs: ([a]) => `select(${a}, -${a}, ${a} < 0)`,
  floor: ([a]) => a,
  add: ([a, b]) => `(${a} + ${b})`,
  sub: ([a, b]) => `(${a} - ${b})`,
  mul: ([a, b]) => `(${a} * ${b})`,
  div: ([a, b]) => `select(${a} / ${b}, ${a}, ${b} == 0)`,
  pow: ([a, b]) => `ipow_(${a}, ${b})`,
  max: ([a, b]) => `max(${a}, ${b})`,
  min: ([a, b]) => `min(${a}, ${b})`,
  eq: cmp('==', '0', '1'),
  ne: cmp('!=', '0', '1'),
  lt: cmp('<', '0', '1'),
  le: cmp('<=', '0', '1'),
  gt: cmp('>', '0', '1'),
  ge: cmp('>=', '0', '1'),
  to_f32: ([a]) => `f32(${a})`,
  to_i32: ([a]) => a,
};

/** JavaScript ToInt32 of an f32: truncate, wrap modulo 2^32, non-finite → 0. */
const TO_I32 = `
fn to_i32_(v: f32) -> i32 {
  let t = trunc(v);
  if (abs(t) < 2147483648.0) { return i32(t); }
  if (!(abs(t) <= 3.4028234e38)) { return 0; } // NaN, ±inf
  let r = t - 4294967296.0 * floor(t / 4294967296.0); // exact: t is a multiple of 2^8 here
  return bitcast<i32>(u32(r));
}`;

/** A WGSL literal of the constant (f32 values round-trip through 9 significant digits). */
function literal(v: number, t: ScalarType): string {
  if (t === 'i32') return v === -2147483648 ? '(-2147483647 - 1)' : v < 0 ? `(${v}i)` : `${v}i`;
  if (Number.isNaN(v)) return 'f32_nan()';
  if (!Number.isFinite(v)) return v > 0 ? 'f32_inf()' : 'f32_neg_inf()';
  const s = Math.fround(v).toPrecision(9);
  return v < 0 || Object.is(v, -0) ? `(${s})` : s;
}

function emitNode(n: Node, id: number, prog: Program): string {
  const name = `t${id}`;
  if (n.k === 'in') return `let ${name} = x${n.i};`;
  if (n.k === 'c') return `let ${name}: ${n.t} = ${literal(n.v, n.t)};`;
  const args = n.a.map((j) => `t${j}`);
  if (n.k === 'select') {
    const zero = prog.nodes[n.a[0]].t === 'f32' ? '0.0' : '0';
    return `let ${name} = select(${args[2]}, ${args[1]}, ${args[0]} != ${zero});`;
  }
  // The argument type picks the form (a cast's result type differs from its argument's).
  const argType = prog.nodes[n.a[0]].t;
  const emit = argType === 'i32' ? I32[n.k] : F32[n.k];
  if (!emit) throw new Error(`elementwise: ${n.k} is not defined on i32`);
  return `let ${name} = ${emit(args)};`;
}

/** Functions a program with f32 arguments needs from math.ts (shader compile time grows with the source). */
const NEEDS_MATH = new Set<Prim>(['log', 'log1p', 'expm1', 'sigmoid', 'tanh', 'erf', 'softplus', 'sin', 'cos', 'pow']);

function prelude(prog: Program): string {
  const argType = (n: Node) => (n.k === 'in' || n.k === 'c' ? n.t : prog.nodes[n.a[0]].t);
  const uses = (p: Prim, t: ScalarType) => prog.nodes.some((n) => n.k === p && argType(n) === t);
  const math = prog.nodes.some((n) => n.k !== 'in' && n.k !== 'c' && NEEDS_MATH.has(n.k) && argType(n) === 'f32');
  return `${math ? MATH_F32 : NONFINITE}${uses('pow', 'i32') ? MATH_I32 : ''}${uses('to_i32', 'f32') ? TO_I32 : ''}`;
}

export function elementwiseKernel(prog: Program, rank: number, vec4: boolean, scalar: boolean[] = []): Kernel {
  const K = prog.inputs.length, M = prog.outputs.length;
  // In the vec4 variant a scalar input (every stride 0) stays an array of scalars, read once.
  const wide = (k: number) => vec4 && !scalar[k];
  const views = prog.inputs.map((_, k) => `v${k}`);
  const { params, code: offsets } = stridedOffsets(rank, views);
  const v = (t: ScalarType) => (vec4 ? `vec4<${t}>` : t);
  const outType = (j: number) => prog.nodes[prog.outputs[j]].t;
  const decl = [
    ...prog.inputs.map((t, k) => `@group(0) @binding(${k}) var<storage, read> X${k}: array<${wide(k) ? v(t) : t}>;`),
    ...prog.outputs.map((_, j) => `@group(0) @binding(${K + j}) var<storage, read_write> Y${j}: array<${v(outType(j))}>;`),
  ].join('\n');
  const body = prog.nodes.map((n, id) => emitNode(n, id, prog)).join('\n    ');
  const compute = vec4
    ? `${prog.inputs.map((_, k) => `  let r${k} = X${k}[off_v${k}];`).join('\n')}
${prog.outputs.map((_, j) => `  var o${j}: ${v(outType(j))};`).join('\n')}
  for (var c = 0u; c < 4u; c = c + 1u) {
    ${prog.inputs.map((_, k) => `let x${k} = r${k}${wide(k) ? '[c]' : ''};`).join(' ')}
    ${body}
    ${prog.outputs.map((o, j) => `o${j}[c] = t${o};`).join(' ')}
  }
${prog.outputs.map((_, j) => `  Y${j}[i] = o${j};`).join('\n')}`
    : `  ${prog.inputs.map((_, k) => `let x${k} = X${k}[off_v${k}];`).join(' ')}
  {
    ${body}
    ${prog.outputs.map((o, j) => `Y${j}[i] = t${o};`).join(' ')}
  }`;
  const code = `${prelude(prog)}
${decl}
${uniformBlock(params, K + M)}
${entry1d(`  if (i >= P.n) { return; }
${offsets}
${compute}`)}`;
  const mask = vec4 && scalar.some(Boolean) ? `:${scalar.map(Number).join('')}` : '';
  return { key: `ew:${rank}:${vec4 ? 'v4' : 's'}${mask}:${prog.key}`, code, params, workgroupSize: 256 };
}
