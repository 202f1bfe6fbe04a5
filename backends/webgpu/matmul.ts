// Backend.matmul on WebGPU: the shape-specialised tiled kernel of kernels/matmul.ts, memoised per
// shape, with batches beyond the per-dimension workgroup limit split over several dispatches, and
// split-K for outputs too small to fill the GPU.
import { choosePreset, DEFAULT_MATMUL_TILES, matmulDispatch, matmulKernel, matmulUniform, type MatmulPresetName } from '../../kernels/matmul.ts';
import { reduceGpu } from './reduce.ts';
import type { MatmulParams, Storage } from '../backend.ts';
import type { GpuBinding, GpuRoutineContext } from '../routine.ts';
import { GEMV_MAX_ROWS } from '../../kernels/gemv.ts';
import { runGemv } from '../routines/gemv.ts';
import { checkShape } from './views.ts';
import { chooseMmaKernel, mmaEligible } from '../../kernels/matmul-mma.ts';

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
  // A batch of row blocks against one shared B (a Linear on [B, T, K]) is one product of batch·m
  // rows: C's batches are contiguous [m, n] blocks, so the output is the same memory.
  const q = batch > 1 && p.bBatchStride === 0 && !p.transA && p.aBatchStride === m * k && batch * m <= 16 * g.maxWorkgroups
    ? { ...p, batch: 1, m: batch * m, aBatchStride: 0 } : p;
  // Few rows against a weight stored [n, k] (decode): the gemv kernel, many workgroups over n, lanes over k.
  const gemv = q.batch === 1 && q.transB && !q.transA && q.m <= GEMV_MAX_ROWS;
  const splits = q.batch === 1 && !gemv ? splitK(q.m, n, k, g.tiles?.matmul) : 1;
  if (splits > 1) return splitKMatmul(g, ab, bb, q, splits);
  const out = g.alloc(batch * m * n, 'f32', 'matmul');
  if (out.size === 0) return out;
  if (gemv) {
    runGemv(g, 'matmul', { M: q.m, weights: 1, mode: 'concat', norm: false, residual: false }, [ab, bb, g.bind('matmul', 'out', out)], k, [n], n, 0);
    return out;
  }
  return matmulInto(g, ab, bb, out, q);
}

/** Whether matmulGpu runs this product on the matrix units (matmulPrecision 'f16' and a shape they serve). */
export function usesMma(g: GpuRoutineContext, p: MatmulParams): boolean {
  return g.matmulPrecision === 'f16' && mmaEligible(p);
}

function matmulInto(g: GpuRoutineContext, ab: GpuBinding, bb: GpuBinding, out: Storage, p: MatmulParams): Storage {
  const { batch, m, n, k } = p;
  const mma = usesMma(g, p);
  const sig = `matmul:${+p.transA}${+p.transB}:${batch}:${m}:${n}:${k}:${p.aBatchStride}:${p.bBatchStride}${mma ? ':mma' : ''}`;
  const mk = g.memo(sig, () => (mma ? chooseMmaKernel(m, n, batch, p.transA, p.transB, g.limits.maxComputeWorkgroupStorageSize)
    : matmulKernel({ ...p, maxWorkgroupStorage: g.limits.maxComputeWorkgroupStorageSize, tiles: g.tiles?.matmul })));
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

/**
 * Fewer output tiles than this (about two per SM of a large GPU) leave SMs idle: the LoRA gradients,
 * e.g. [16, 576] = 9 tiles with K = 4096 tokens, took 0.37 ms each on an H100, 45 % of a SmolLM2
 * step for 372 of them (bench/NOTES.md, session 4).
 */
const FEW_TILES = 256;
/**
 * Split until the chosen kernel launches about this many threads (a full wave of a 132-SM GPU at
 * 1024 threads each); each split keeps at least MIN_SLICE of K. Counting the chosen preset's threads,
 * not 32×32 tiles: the lm_head's dX chunks [341, 576] × K 49152 split 4 ways ran as 216 workgroups of
 * 128 threads at 7 TFLOP/s (34 ms of a 195 ms step on an H100, bench/NOTES.md session 5).
 */
const TARGET_THREADS = 132 * 1024, MIN_SLICE = 128;

/** How many K-slices to compute in parallel (1: none): a power of two dividing K into slices of 4·k. */
export function splitK(m: number, n: number, k: number, tiles: readonly MatmulPresetName[] = DEFAULT_MATMUL_TILES): number {
  if (Math.ceil(m / 32) * Math.ceil(n / 32) >= FEW_TILES || k < 2 * MIN_SLICE) return 1;
  const threads = (s: number) => {
    const p = choosePreset(tiles, m, n, s);
    return Math.ceil(m / p.tileM) * Math.ceil(n / p.tileN) * s * (p.tileM / p.TM) * (p.tileN / p.TN);
  };
  let s = 1;
  while (threads(s) < TARGET_THREADS && k % (8 * s) === 0 && k / (2 * s) >= MIN_SLICE) s *= 2;
  return s;
}

/**
 * C = op(A)·op(B) as `splits` products over K-slices, summed: slice s of an operand stored [K, rows]
 * starts s·K'·rows in (a batch stride), of one stored [rows, K] s·K' in with the row stride still K
 * (the kernel's ldk). The partial products [splits, M, N] are then summed over the first axis.
 */
function splitKMatmul(g: GpuRoutineContext, ab: GpuBinding, bb: GpuBinding, p: MatmulParams, splits: number): Storage {
  const { m, n, k, transA, transB } = p, slice = k / splits;
  const aBatchStride = transA ? slice * m : slice, bBatchStride = transB ? slice : slice * n;
  const sig = `matmul:${+transA}${+transB}:splitk${splits}:${m}:${n}:${k}`;
  const mk = g.memo(sig, () => matmulKernel({
    transA, transB, m, n, k: slice, batch: splits, aBatchStride, bBatchStride, maxWorkgroupStorage: g.limits.maxComputeWorkgroupStorageSize, tiles: g.tiles?.matmul,
  }));
  const partial = g.alloc(splits * m * n, 'f32', 'matmul');
  const u = matmulUniform({ m, n, k: slice, aBatchStride, bBatchStride, batchOffset: 0, ldk: k });
  g.dispatch('matmul', mk, [ab, bb, g.bind('matmul', 'out', partial)], u, matmulDispatch(mk, m, n, splits));
  const out = reduceGpu(g, 'sum', partial, 1, splits, m * n);
  g.backend.free(partial);
  return out;
}
