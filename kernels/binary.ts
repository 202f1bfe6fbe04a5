// Binary elementwise with broadcasting: out[i] = op(A[view a of i], B[view b of i]) over outShape.
// Both inputs are strided views (stride 0 broadcasts) of rank `rank` (the backend collapses dims
// first, so rank is small). Comparisons write 0/1 in the input dtype.
// Bindings: 0 A (read), 1 B (read), 2 out (read_write), 3 uniform (stridedOffsets: n, shape, a_*, b_*).
// Dispatch: ceil(n / 256) workgroups, folded.
// vec4 variant: every view walks its innermost dim contiguously and 16-byte aligned (see
// vec4Views in the backend); shapes, strides and offsets then count vec4s.
import { MATH_F32, MATH_I32 } from './math.ts';
import { entry1d, type Kernel, NONFINITE, stridedOffsets, uniformBlock } from './wgsl.ts';

export type BinaryDType = 'f32' | 'i32';

export const BINARY_F32 = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'pow_(a, b)',
  // NaN-propagating, like the cpu backend (WGSL max/min leave NaN implementation-defined).
  maximum: 'select(max(a, b), f32_nan(), is_nan_(a) || is_nan_(b))',
  minimum: 'select(min(a, b), f32_nan(), is_nan_(a) || is_nan_(b))',
  eq: 'select(0.0, 1.0, a == b)',
  ne: 'select(1.0, 0.0, a == b)', // NaN != NaN is true; some drivers compile != as ordered
  lt: 'select(0.0, 1.0, a < b)',
  le: 'select(0.0, 1.0, a <= b)',
  gt: 'select(0.0, 1.0, a > b)',
  ge: 'select(0.0, 1.0, a >= b)',
} as const;

export type BinaryKernelOp = keyof typeof BINARY_F32;

/** i32: wrapping arithmetic, division toward zero with x / 0 = x (WGSL's rule, mirrored by the cpu backend). */
const BINARY_I32: Record<BinaryKernelOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'select(a / b, a, b == 0)',
  pow: 'ipow_(a, b)',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  eq: 'select(0, 1, a == b)',
  ne: 'select(0, 1, a != b)',
  lt: 'select(0, 1, a < b)',
  le: 'select(0, 1, a <= b)',
  gt: 'select(0, 1, a > b)',
  ge: 'select(0, 1, a >= b)',
};

export function binaryKernel(op: BinaryKernelOp, dtype: BinaryDType, rank: number, vec4 = false): Kernel {
  if (!(op in BINARY_F32)) throw new Error(`binary: unknown op '${op}'`);
  const expr = dtype === 'f32' ? BINARY_F32[op] : BINARY_I32[op];
  const prelude = dtype === 'i32' ? (op === 'pow' ? MATH_I32 : '') : op === 'pow' ? MATH_F32 : NONFINITE;
  const { params, code: offsets } = stridedOffsets(rank, ['a', 'b']);
  const t = vec4 ? `vec4<${dtype}>` : dtype;
  const store = vec4
    ? `  let va = A[off_a];
  let vb = B[off_b];
  var r: ${t};
  for (var c = 0u; c < 4u; c = c + 1u) { r[c] = op_(va[c], vb[c]); }
  Y[i] = r;`
    : '  Y[i] = op_(A[off_a], B[off_b]);';
  const code = `${prelude}
@group(0) @binding(0) var<storage, read> A: array<${t}>;
@group(0) @binding(1) var<storage, read> B: array<${t}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${t}>;
${uniformBlock(params, 3)}
fn op_(a: ${dtype}, b: ${dtype}) -> ${dtype} { return ${expr}; }
${entry1d(`  if (i >= P.n) { return; }
${offsets}
${store}`)}`;
  return { key: `binary:${op}:${dtype}:r${rank}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}
