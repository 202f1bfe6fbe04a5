// Backend.reduce and Backend.argmax on WebGPU: workgroup trees over x viewed as [outer, r, inner],
// r split across passes (each writes partial results the next pass reduces) so no thread walks more
// than 64 (or 512) elements (kernels/reduce.ts, kernels/argmax.ts).
import { argmaxKernel } from '../../kernels/argmax.ts';
import { REDUCE_THREADS, reduceKernel, reduceTileX } from '../../kernels/reduce.ts';
import type { ReduceOp, Storage } from '../backend.ts';
import type { GpuRoutineContext } from '../routine.ts';
import { checkShape } from './views.ts';

/** Elements of r each workgroup covers per pass: ≤ 64 per thread while the GPU still has idle cores. */
function reduceChunk(r: number, ty: number, parallelWorkgroups: number): number {
  const perThread = parallelWorkgroups < 2048 ? 64 : 512;
  return Math.min(r, ty * perThread);
}

function checkOuterRInner(op: string, x: Storage, outer: number, r: number, inner: number): void {
  checkShape(op, '[outer, r, inner]', [outer, r, inner]);
  if (outer * r * inner !== x.size) {
    throw new Error(`webgpu ${op}: x holds ${x.size} elements but [outer, r, inner] = [${outer}, ${r}, ${inner}] needs ${outer * r * inner}`);
  }
}

export function reduceGpu(g: GpuRoutineContext, op: ReduceOp, x: Storage, outer: number, r: number, inner: number): Storage {
  const name = `reduce ${op}`;
  if (op !== 'sum' && op !== 'max' && op !== 'min') throw new Error(`webgpu reduce: unknown op '${op}' (sum, max, min)`);
  const dt = x.dtype;
  g.bind(name, 'x', x);
  checkOuterRInner(name, x, outer, r, inner);
  if (outer * inner === 0) return g.alloc(0, dt, name);
  if (r === 0) {
    // The cpu backend's empty reductions: 0, -inf, +inf (i32 storage turns ±inf into 0).
    const v = op === 'sum' || dt === 'i32' ? 0 : op === 'max' ? -Infinity : Infinity;
    return g.backend.fill(outer * inner, v, dt);
  }
  const tx = reduceTileX(inner), ty = REDUCE_THREADS / tx;
  const colBlocks = Math.ceil(inner / tx);
  let cur = x, curR = r;
  for (;;) {
    // Rows of whole vec4s (inner = 1) are read 16 bytes at a time; r and chunk then count vec4s.
    const vec4 = inner === 1 && curR % 4 === 0;
    const units = vec4 ? curR / 4 : curR;
    const chunk = reduceChunk(units, ty, outer * colBlocks);
    const groups = Math.ceil(units / chunk);
    const out = g.alloc(outer * groups * inner, dt, name);
    g.runGrid(name, reduceKernel(op, dt, tx, vec4), [g.bind(name, 'x', cur), g.bind(name, 'out', out)],
      { outer, r: units, inner, chunk, groups, colBlocks }, outer * groups * colBlocks);
    if (cur !== x) g.backend.free(cur);
    if (groups === 1) return out;
    cur = out;
    curR = groups;
  }
}

export function argmaxGpu(g: GpuRoutineContext, x: Storage, outer: number, r: number, inner: number): Storage {
  const dt = x.dtype;
  g.bind('argmax', 'x', x);
  checkOuterRInner('argmax', x, outer, r, inner);
  if (outer * inner === 0 || r === 0) return g.backend.fill(outer * inner, 0, 'i32');
  const tx = reduceTileX(inner), ty = REDUCE_THREADS / tx;
  const colBlocks = Math.ceil(inner / tx);
  let vals = x, idx: Storage | null = null, curR = r;
  for (;;) {
    const vec4 = idx === null && inner === 1 && curR % 4 === 0; // first pass over whole vec4 rows
    const units = vec4 ? curR / 4 : curR;
    const chunk = reduceChunk(units, ty, outer * colBlocks);
    const groups = Math.ceil(units / chunk);
    const partial = groups > 1;
    const outIdx = g.alloc(outer * groups * inner, 'i32', 'argmax');
    const outVal = partial ? g.alloc(outer * groups * inner, dt, 'argmax') : null;
    const bindings = [g.bind('argmax', 'x', vals)];
    if (idx) bindings.push(g.bind('argmax', 'idx', idx));
    bindings.push(g.bind('argmax', 'out', outIdx));
    if (outVal) bindings.push(g.bind('argmax', 'vals', outVal));
    g.runGrid('argmax', argmaxKernel(dt, tx, { pairs: idx !== null, partial, vec4 }), bindings,
      { outer, r: units, inner, chunk, groups, colBlocks }, outer * groups * colBlocks);
    if (vals !== x) g.backend.free(vals);
    if (idx) g.backend.free(idx);
    if (!outVal) return outIdx;
    vals = outVal;
    idx = outIdx;
    curR = groups;
  }
}
