// Encode kernels/matmul.ts kernels with raw WebGPU (the binding/uniform/dispatch contract written at the
// top of that file), for the kernel benchmark and the kernel tests.

import {
  matmulKernel, matmulDispatch, matmulUniform, type MatmulKernel, type MatmulKernelOptions,
} from '../../kernels/matmul.ts';
import { computePipeline, uniformBuffer, type Dispatch, type GpuContext } from './gpu.ts';

export interface MatmulProblem {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  aBatchStride: number; // 0 broadcasts A over the batch
  bBatchStride: number;
}

export function kernelFor(ctx: GpuContext, p: MatmulProblem, config?: MatmulKernelOptions['config']): MatmulKernel {
  return matmulKernel({
    transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k, batch: p.batch,
    aBatchStride: p.aBatchStride, bBatchStride: p.bBatchStride,
    maxWorkgroupStorage: ctx.device.limits.maxComputeWorkgroupStorageSize, config,
  });
}

const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

export function matmulPipeline(ctx: GpuContext, kernel: MatmulKernel): Promise<GPUComputePipeline> {
  let cache = pipelines.get(ctx.device);
  if (!cache) pipelines.set(ctx.device, (cache = new Map()));
  let p = cache.get(kernel.key);
  if (!p) cache.set(kernel.key, (p = computePipeline(ctx.device, kernel.code, kernel.key)));
  return p;
}

/**
 * Dispatches computing C = op(A)·op(B) for the whole batch, split into dispatches of at most
 * maxBatchPerDispatch (default: the device's maxComputeWorkgroupsPerDimension, 65535) products.
 */
export async function matmulDispatches(ctx: GpuContext, kernel: MatmulKernel, p: MatmulProblem,
  a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, maxBatchPerDispatch?: number): Promise<{ dispatches: Dispatch[]; uniforms: GPUBuffer[] }> {
  const pipeline = await matmulPipeline(ctx, kernel);
  const MAX_GROUPS_Z = maxBatchPerDispatch ?? ctx.device.limits.maxComputeWorkgroupsPerDimension;
  const dispatches: Dispatch[] = [], uniforms: GPUBuffer[] = [];
  for (let off = 0; off < p.batch; off += MAX_GROUPS_Z) {
    const count = Math.min(MAX_GROUPS_Z, p.batch - off);
    const u = uniformBuffer(ctx.device, matmulUniform({
      m: p.m, n: p.n, k: p.k, aBatchStride: p.aBatchStride, bBatchStride: p.bBatchStride, batchOffset: off,
    }));
    uniforms.push(u);
    const bindGroup = ctx.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: a } },
        { binding: 1, resource: { buffer: b } },
        { binding: 2, resource: { buffer: c } },
        { binding: 3, resource: { buffer: u } },
      ],
    });
    dispatches.push({ pipeline, bindGroup, groups: matmulDispatch(kernel, p.m, p.n, count) });
  }
  return { dispatches, uniforms };
}

/** Float64 reference for one element C[b, i, j]. */
export function referenceElement(p: MatmulProblem, A: Float32Array, B: Float32Array, b: number, i: number, j: number): number {
  let s = 0;
  const aB = b * p.aBatchStride, bB = b * p.bBatchStride;
  for (let t = 0; t < p.k; t++) {
    const av = A[aB + (p.transA ? t * p.m + i : i * p.k + t)];
    const bv = B[bB + (p.transB ? j * p.k + t : t * p.n + j)];
    s += av * bv;
  }
  return s;
}

/** Float64 reference for the whole product, [batch, m, n]. */
export function referenceMatmul(p: MatmulProblem, A: Float32Array, B: Float32Array): Float64Array {
  const out = new Float64Array(p.batch * p.m * p.n);
  for (let b = 0; b < p.batch; b++) {
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) out[(b * p.m + i) * p.n + j] = referenceElement(p, A, B, b, i, j);
    }
  }
  return out;
}

export function randomF32(n: number, seed: number): Float32Array {
  // xorshift32: reproducible inputs in [-1, 1) without a dependency.
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x / 2147483648 - 1;
  }
  return out;
}
