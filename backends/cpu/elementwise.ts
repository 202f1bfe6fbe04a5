// The cpu evaluation of an elementwise Program (kernels/expr.ts): node by node over blocks of
// BLOCK elements, in float64 (i32 nodes hold exact integers), so a long expression costs one
// loop per node rather than one interpretation per element. Inputs that are not contiguous over
// the output are gathered once; broadcast scalars stay scalars.
import type { Program } from '../../kernels/expr.ts';
import { PRIM_F64, PRIM_I32 } from './math.ts';
import { forEachRun } from './strided.ts';

type Data = Float32Array | Float64Array | Int32Array;
export interface CpuView { data: Data; offset: number; strides: number[] }

const BLOCK = 1024;

/** Input k as a contiguous array over `shape` (its own data when it already is), or a scalar. */
function contiguous(v: CpuView, shape: number[], n: number): ArrayLike<number> | number {
  if (v.strides.every((s) => s === 0)) return v.data[v.offset];
  let expect = 1, plain = v.offset === 0;
  for (let d = shape.length - 1; d >= 0 && plain; d--) {
    if (shape[d] !== 1 && v.strides[d] !== expect) plain = false;
    expect *= shape[d];
  }
  if (plain) return v.data;
  const out = new Float64Array(n);
  forEachRun(shape, [v], (i, len, [p], [st]) => {
    for (let j = 0; j < len; j++, p += st) out[i + j] = v.data[p];
  });
  return out;
}

/** Float arithmetic as plain loops (the generic path calls a function per element). */
function fastF64(k: string, o: Float64Array, a: Float64Array, b: Float64Array, len: number): boolean {
  switch (k) {
    case 'add': for (let j = 0; j < len; j++) o[j] = a[j] + b[j]; return true;
    case 'sub': for (let j = 0; j < len; j++) o[j] = a[j] - b[j]; return true;
    case 'mul': for (let j = 0; j < len; j++) o[j] = a[j] * b[j]; return true;
    case 'div': for (let j = 0; j < len; j++) o[j] = a[j] / b[j]; return true;
    case 'neg': for (let j = 0; j < len; j++) o[j] = -a[j]; return true;
    case 'exp': for (let j = 0; j < len; j++) o[j] = Math.exp(a[j]); return true;
    default: return false;
  }
}

/** Evaluate prog over `shape`, writing output j into outs[j] (contiguous, n elements each). */
export function evalProgram(prog: Program, inputs: CpuView[], shape: number[], outs: Data[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const src = inputs.map((v) => contiguous(v, shape, n));
  // Per node: a scalar (constants, broadcast inputs, functions of scalars only) or a block
  // buffer computed per block; scalar arguments of block nodes get a block filled once.
  const fn = prog.nodes.map((node) => {
    if (node.k === 'in' || node.k === 'c') return null;
    // The argument type picks the form, as in kernels/elementwise.ts.
    const f = prog.nodes[node.a[0]].t === 'i32' ? PRIM_I32[node.k] ?? PRIM_F64[node.k] : PRIM_F64[node.k];
    return f;
  });
  const scalar: (number | null)[] = prog.nodes.map(() => null);
  const buf: (Float64Array | null)[] = prog.nodes.map(() => null);
  prog.nodes.forEach((node, id) => {
    if (node.k === 'c') scalar[id] = node.v;
    else if (node.k === 'in') {
      const s = src[node.i];
      if (typeof s === 'number') scalar[id] = s;
      else buf[id] = new Float64Array(BLOCK);
    } else if (node.a.every((a) => scalar[a] !== null)) scalar[id] = fn[id]!(...node.a.map((a) => scalar[a]!));
    else buf[id] = new Float64Array(BLOCK);
  });
  const filled = prog.nodes.map((_, id) => (scalar[id] === null ? null : new Float64Array(BLOCK).fill(scalar[id]!)));
  const arg = (a: number) => (buf[a] ?? filled[a])!;
  for (let s = 0; s < n; s += BLOCK) {
    const len = Math.min(BLOCK, n - s);
    prog.nodes.forEach((node, id) => {
      const o = buf[id];
      if (!o) return;
      if (node.k === 'in') {
        const d = src[node.i] as ArrayLike<number>;
        for (let j = 0; j < len; j++) o[j] = d[s + j];
        return;
      }
      if (node.k === 'c') return;
      const f = fn[id]!;
      const [a, b, c] = node.a.map(arg);
      if (node.t === 'f32' && fastF64(node.k, o, a, b, len)) return;
      if (node.a.length === 1) for (let j = 0; j < len; j++) o[j] = f(a[j]);
      else if (node.a.length === 2) for (let j = 0; j < len; j++) o[j] = f(a[j], b[j]);
      else for (let j = 0; j < len; j++) o[j] = f(a[j], b[j], c[j]);
    });
    prog.outputs.forEach((id, k) => {
      const out = outs[k];
      if (buf[id]) out.set(len === BLOCK ? buf[id]! : buf[id]!.subarray(0, len), s);
      else out.fill(scalar[id]!, s, s + len);
    });
  }
}
