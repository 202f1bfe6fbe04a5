// Backend.matmul on WebGPU: the shape-specialised tiled kernel of kernels/matmul.ts, memoised per
// shape, with batches beyond the per-dimension workgroup limit split over several dispatches.
import { matmulDispatch, matmulKernel, matmulUniform } from '../../kernels/matmul.ts';
import type { MatmulParams, Storage } from '../backend.ts';
import type { GpuBinding, GpuRoutineContext } from '../routine.ts';
import { GEMV_MAX_ROWS } from '../../kernels/gemv.ts';
import { runGemv } from '../routines/gemv.ts';
import { checkShape } from './views.ts';

/** C[b] = op(A[b]) · op(B[b]) → [batch, m, n]; f32. */
export function matmulGpu(g: GpuRoutineContext, a: Storage, b: Storage, p: MatmulParams): Storage {
  const { batch, m, n, k } = p;
  checkShape('matmul', '[batch, m, n, k]', [batch, m, n, k]);
  checkShape('matmul', '[aBatchStride, bBatchStride]', [p.aBatchStride, p.bBatchStride]);
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`webgpu matmul: f32 only, got a ${a.dtype}, b ${b.dtype}`);
  const need = (stride: number, rows: number, cols: number) => (batch === 0 ? 0 : (batch - 1) * stride + rows * cols);
  const aNeed = need(p.aBatchStride, m, k), bNeed = need(p.bBatchStride, k, n);
  if (a.size < aNeed || b.size < bNeed) {
    throw new Error(
      `webgpu matmul: batch ${batch} of [${m}, ${k}]·[${k}, ${n}] (transA ${p.transA}, transB ${p.transB}, batch strides ` +
        `${p.aBatchStride}/${p.bBatchStride}) needs a ≥ ${aNeed} and b ≥ ${bNeed} elements, got ${a.size} and ${b.size}`,
    );
  }
  const ab = g.bind('matmul', 'a', a), bb = g.bind('matmul', 'b', b);
  const out = g.alloc(batch * m * n, 'f32', 'matmul');
  if (out.size === 0) return out;
  // A batch of row blocks against one shared B (a Linear on [B, T, K]) is one product of batch·m
  // rows: C's batches are contiguous [m, n] blocks, so the output is the same memory.
  if (batch > 1 && p.bBatchStride === 0 && !p.transA && p.aBatchStride === m * k && batch * m <= 16 * g.maxWorkgroups) {
    return matmulInto(g, ab, bb, out, { ...p, batch: 1, m: batch * m, aBatchStride: 0 });
  }
  return matmulInto(g, ab, bb, out, p);
}

function matmulInto(g: GpuRoutineContext, ab: GpuBinding, bb: GpuBinding, out: Storage, p: MatmulParams): Storage {
  const { batch, m, n, k } = p;
  // Few rows against a weight stored [n, k]: the gemv kernel (many workgroups over n, lanes over k).
  if (batch === 1 && p.transB && !p.transA && m <= GEMV_MAX_ROWS) {
    runGemv(g, 'matmul', { M: m, weights: 1, mode: 'concat', norm: false, residual: false }, [ab, bb, g.bind('matmul', 'out', out)], k, [n], n, 0);
    return out;
  }
  const sig = `matmul:${+p.transA}${+p.transB}:${batch}:${m}:${n}:${k}:${p.aBatchStride}:${p.bBatchStride}`;
  const mk = g.memo(sig, () => matmulKernel({ ...p, maxWorkgroupStorage: g.limits.maxComputeWorkgroupStorageSize }));
  const [gx, gy] = matmulDispatch(mk, m, n, 1);
  if (gx > g.maxWorkgroups || gy > g.maxWorkgroups) {
    throw new Error(`webgpu matmul: [${m}, ${n}] output needs ${gy}×${gx} tiles, over the ${g.maxWorkgroups} workgroups per dimension limit`);
  }
  const cb = g.bind('matmul', 'out', out);
  // The z dimension counts batches: more than maxWorkgroups of them go in several dispatches.
  for (let b0 = 0; b0 < batch; b0 += g.maxWorkgroups) {
    const count = Math.min(g.maxWorkgroups, batch - b0);
    const u = matmulUniform({ m, n, k, aBatchStride: p.aBatchStride, bBatchStride: p.bBatchStride, batchOffset: b0 });
    g.dispatch('matmul', mk, [ab, bb, cb], u, matmulDispatch(mk, m, n, count));
  }
  return out;
}
