// Reduction over the middle axis: X viewed as [outer, r, inner] → out [outer, groups, inner].
// Workgroup = TX columns (consecutive inner indices, for coalesced loads) × TY lanes along r.
// Each workgroup reduces one chunk of r (≤ `chunk` elements) for TX columns: every lane strides
// through the chunk, then the TY partials meet in a workgroup-memory tree. When r is split into
// several groups the backend runs the same kernel again over [outer, groups, inner]; so no thread
// ever walks more than chunk / TY elements, whatever r is.
// Bindings: 0 X (read), 1 out (read_write), 2 uniform { outer, r, inner, chunk, groups, colBlocks }.
// Dispatch: outer · groups · colBlocks workgroups (colBlocks = ceil(inner / TX)), folded.
// vec4 variant (inner = 1, r % 4 = 0): X is read as array<vec4<T>> and r, chunk count vec4s.
import { LINEAR_WORKGROUP, type Kernel, NONFINITE, uniformBlock } from './wgsl.ts';

export type ReduceKernelOp = 'sum' | 'max' | 'min';
export type ReduceDType = 'f32' | 'i32';

/** Threads per reduction workgroup; TX · TY = this. */
export const REDUCE_THREADS = 256;

/** Columns per workgroup for a given inner size: wide rows get 64 coalesced columns, inner = 1 gets 1. */
/**
 * WGSL that places this workgroup in the [outer, groups, colBlocks] grid shared by reduce and
 * argmax: o (outer row), g (which chunk of r: k0..k1), col (inner column of this thread).
 */
export function reduceTileIndex(tx: number): string {
  return `${LINEAR_WORKGROUP}
  if (w >= P.outer * P.groups * P.colBlocks) { return; }
  let cb = w % P.colBlocks;
  let t = w / P.colBlocks;
  let g = t % P.groups;
  let o = t / P.groups;
  let col = cb * ${tx}u + lid.x;
  let k0 = g * P.chunk;
  let k1 = min(k0 + P.chunk, P.r);`;
}

export function reduceTileX(inner: number): number {
  let tx = 1;
  while (tx < inner && tx < 64) tx *= 2;
  return tx;
}

/** The reduction identity (what an empty range reduces to) and the combine expression of a, b. */
export function reduceCombine(op: ReduceKernelOp, dtype: ReduceDType): { identity: string; combine: string } {
  const f = dtype === 'f32';
  if (op === 'sum') return { identity: f ? '0.0' : '0', combine: 'a + b' };
  const fn = op === 'max' ? 'max' : 'min';
  const identity = op === 'max'
    ? (f ? 'f32_neg_inf()' : 'bitcast<i32>(0x80000000u)')
    : (f ? 'f32_inf()' : 'bitcast<i32>(0x7fffffffu)');
  // f32 max/min propagate NaN as the cpu backend does; WGSL leaves NaN handling to the driver.
  const combine = f ? `select(${fn}(a, b), f32_nan(), is_nan_(a) || is_nan_(b))` : `${fn}(a, b)`;
  return { identity, combine };
}

export function reduceKernel(op: ReduceKernelOp, dtype: ReduceDType, tx: number, vec4 = false): Kernel {
  if (vec4 && tx !== 1) throw new Error('reduce: the vec4 variant needs inner = 1');
  const ty = REDUCE_THREADS / tx;
  const { identity, combine } = reduceCombine(op, dtype);
  const params = ['outer', 'r', 'inner', 'chunk', 'groups', 'colBlocks'];
  const code = `${NONFINITE}
@group(0) @binding(0) var<storage, read> X: array<${vec4 ? `vec4<${dtype}>` : dtype}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${dtype}>;
${uniformBlock(params, 2)}
var<workgroup> sh: array<${dtype}, ${REDUCE_THREADS}>;
fn combine_(a: ${dtype}, b: ${dtype}) -> ${dtype} { return ${combine}; }

@compute @workgroup_size(${tx}, ${ty}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  ${reduceTileIndex(tx)}
  var acc: ${dtype} = ${identity};
  if (col < P.inner) {
    for (var k = k0 + lid.y; k < k1; k = k + ${ty}u) {
${vec4
    ? `      let v = X[o * P.r + k];
      acc = combine_(combine_(combine_(combine_(acc, v.x), v.y), v.z), v.w);`
    : '      acc = combine_(acc, X[(o * P.r + k) * P.inner + col]);'}
    }
  }
  let me = lid.y * ${tx}u + lid.x;
  sh[me] = acc;
  workgroupBarrier();
  for (var s = ${ty / 2}u; s > 0u; s = s >> 1u) {
    if (lid.y < s) { sh[me] = combine_(sh[me], sh[me + s * ${tx}u]); }
    workgroupBarrier();
  }
  if (lid.y == 0u && col < P.inner) { Y[(o * P.groups + g) * P.inner + col] = sh[lid.x]; }
}`;
  return { key: `reduce:${op}:${dtype}:tx${tx}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: REDUCE_THREADS };
}
