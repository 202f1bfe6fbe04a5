// The kernel benchmark's workloads, each timed through raw WebGPU with the same WGSL builders
// (kernels/*.ts) and the same binding/uniform/grid contract that backends/webgpu uses, and each
// checked against a float64 reference so a fast wrong kernel cannot post a number.

import type { MatmulConfig } from '../../kernels/matmul.ts';
import { elementwiseKernel } from '../../kernels/elementwise.ts';
import { add, input, program } from '../../kernels/expr.ts';
import { copyKernel } from '../../kernels/copy.ts';
import { REDUCE_THREADS, reduceKernel, reduceTileX } from '../../kernels/reduce.ts';
import { stridedValues, type Kernel } from '../../kernels/wgsl.ts';
import { foldGrid } from '../../backends/webgpu/grid.ts';
import { vec4Views } from '../../backends/webgpu/views.ts';
import {
  computePipeline, readF32, storageBuffer, timeDispatches, uniformBuffer, uploadF32,
  type Dispatch, type GpuContext,
} from './gpu.ts';
import { kernelFor, matmulDispatches, randomF32, referenceElement, type MatmulProblem } from './matmul-run.ts';
import type { KernelBenchRow } from './report.ts';

export interface TimingOptions { samples: number; warmup: number; targetMs: number }

export async function benchMatmul(ctx: GpuContext, p: MatmulProblem, t: TimingOptions,
  o: { config?: Partial<MatmulConfig>; name?: string; checkElements?: number } = {}): Promise<KernelBenchRow> {
  const { device } = ctx;
  const aLen = p.aBatchStride ? p.batch * p.aBatchStride : p.m * p.k;
  const bLen = p.bBatchStride ? p.batch * p.bBatchStride : p.k * p.n;
  const A = randomF32(aLen, 11), B = randomF32(bLen, 12);
  const a = uploadF32(device, A), b = uploadF32(device, B);
  const c = storageBuffer(device, p.batch * p.m * p.n * 4);
  const kernel = kernelFor(ctx, p, o.config);
  const { dispatches, uniforms } = await matmulDispatches(ctx, kernel, p, a, b, c);
  const timing = await timeDispatches(ctx, dispatches, t);
  // Check sampled elements (the corners and random ones) against float64.
  const got = await readF32(device, c, p.batch * p.m * p.n);
  let worst = 0;
  const n = o.checkElements ?? 64;
  let s = 12345;
  for (let e = 0; e < n; e++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const bi = e === 0 ? 0 : e === 1 ? p.batch - 1 : s % p.batch;
    const i = e === 1 ? p.m - 1 : (s >>> 3) % p.m, j = e === 1 ? p.n - 1 : (s >>> 11) % p.n;
    const ref = referenceElement(p, A, B, bi, i, j);
    const scale = referenceAbs(p, A, B, bi, i, j);
    const err = Math.abs(got[(bi * p.m + i) * p.n + j] - ref) / Math.max(scale, 1e-30);
    worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
  }
  for (const x of [a, b, c, ...uniforms]) x.destroy();
  const flops = 2 * p.batch * p.m * p.n * p.k;
  const bytes = 4 * (aLen + bLen + p.batch * p.m * p.n);
  const tr = `${p.transA ? 't' : 'n'}${p.transB ? 't' : 'n'}`;
  return {
    name: o.name ?? `matmul_f32_${p.m === p.n && p.n === p.k ? p.m : `${p.m}x${p.n}x${p.k}`}_${tr}${p.batch > 1 ? `_b${p.batch}` : ''}`,
    op: 'matmul', dtype: 'f32', shape: [p.batch, p.m, p.n, p.k], transA: p.transA, transB: p.transB,
    ms: timing.medianMs, minMs: timing.minMs, samples: timing.samples.length, timing: timing.method,
    gflops: flops / timing.medianMs / 1e6, gbps: bytes / timing.medianMs / 1e6,
    kernel: kernel.key, maxRelErr: worst,
  };
}

function referenceAbs(p: MatmulProblem, A: Float32Array, B: Float32Array, b: number, i: number, j: number): number {
  let s = 0;
  for (let t = 0; t < p.k; t++) {
    const av = A[b * p.aBatchStride + (p.transA ? t * p.m + i : i * p.k + t)];
    const bv = B[b * p.bBatchStride + (p.transB ? j * p.k + t : t * p.n + j)];
    s += Math.abs(av * bv);
  }
  return s;
}

/** One backend-style dispatch of a kernels/wgsl.ts Kernel: uniform words packed by name, grid folded. */
async function kernelDispatch(ctx: GpuContext, kernel: Kernel, buffers: GPUBuffer[], values: Record<string, number>,
  workgroups: number): Promise<{ d: Dispatch; u: GPUBuffer }> {
  const words = new Uint32Array(kernel.params.map((p) => {
    const v = values[p];
    if (v === undefined) throw new Error(`bench: kernel ${kernel.key} needs parameter '${p}'`);
    return v >>> 0;
  }));
  const u = uniformBuffer(ctx.device, words);
  const pipeline = await computePipeline(ctx.device, kernel.code, kernel.key);
  const bindGroup = ctx.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [...buffers, u].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const [x, y] = foldGrid(workgroups, ctx.device.limits.maxComputeWorkgroupsPerDimension);
  return { d: { pipeline, bindGroup, groups: [x, y, 1] }, u };
}

/**
 * Uniform values for contiguous views of n elements, switched to vec4 units the way
 * WebGPUBackend.strided does (backends/webgpu/views.ts vec4Views).
 */
function contiguousPlan(n: number, names: string[]): { vec4: boolean; units: number; values: Record<string, number> } {
  const views = names.map(() => ({ offset: 0, strides: [1] }));
  const v4 = vec4Views([n], views);
  const { shape, views: vs } = v4 ?? { shape: [n], views };
  return { vec4: v4 !== null, units: shape[0], values: stridedValues(shape, vs.map((v, i) => ({ name: names[i], ...v }))) };
}

const label = (n: number) => (n >= 1 << 20 && n % (1 << 20) === 0 ? `${n >> 20}M` : n >= 1024 && n % 1024 === 0 ? `${n >> 10}K` : `${n}`);

/** out = a + b over n contiguous f32 (kernels/elementwise.ts, rank 1 after the backend's dim collapsing). */
export async function benchAdd(ctx: GpuContext, n: number, t: TimingOptions): Promise<KernelBenchRow> {
  const { device } = ctx;
  const A = randomF32(n, 21), B = randomF32(n, 22);
  const a = uploadF32(device, A), b = uploadF32(device, B), c = storageBuffer(device, n * 4);
  const plan = contiguousPlan(n, ['v0', 'v1']);
  const kernel = elementwiseKernel(program([add(input(0), input(1))], ['f32', 'f32']), 1, plan.vec4);
  const { d, u } = await kernelDispatch(ctx, kernel, [a, b, c], plan.values, Math.ceil(plan.units / kernel.workgroupSize));
  const timing = await timeDispatches(ctx, [d], t);
  const got = await readF32(device, c, n);
  let worst = 0;
  for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 4096))) {
    const err = Math.abs(got[i] - (A[i] + B[i])) / (Math.abs(A[i]) + Math.abs(B[i]) + 1e-30);
    worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
  }
  for (const x of [a, b, c, u]) x.destroy();
  return {
    name: `add_f32_${label(n)}`, op: 'add', dtype: 'f32', shape: [n],
    ms: timing.medianMs, minMs: timing.minMs, samples: timing.samples.length, timing: timing.method,
    gflops: n / timing.medianMs / 1e6, gbps: (12 * n) / timing.medianMs / 1e6, kernel: kernel.key, maxRelErr: worst,
  };
}

/**
 * Pass plan of a full reduction of r elements ([outer 1, r, inner 1]): the same chunking rule as
 * WebGPUBackend.reduce (backends/webgpu/backend.ts, reduceChunk): ≤ 64 elements per thread while
 * fewer than 2048 workgroups run in parallel, else 512; passes repeat until one group is left.
 */
export function sumPasses(r: number): { r: number; chunk: number; groups: number }[] {
  const ty = REDUCE_THREADS / reduceTileX(1);
  const passes = [];
  for (let cur = r; ;) {
    const chunk = Math.min(cur, ty * 64); // outer · colBlocks = 1 < 2048 parallel workgroups
    const groups = Math.ceil(cur / chunk);
    passes.push({ r: cur, chunk, groups });
    if (groups === 1) return passes;
    cur = groups;
  }
}

/** sum over n contiguous f32 (kernels/reduce.ts, the backend's multi-pass plan). */
export async function benchSum(ctx: GpuContext, n: number, t: TimingOptions): Promise<KernelBenchRow> {
  const { device } = ctx;
  const X = randomF32(n, 31);
  const kernel = reduceKernel('sum', 'f32', reduceTileX(1));
  const bufs: GPUBuffer[] = [uploadF32(device, X)];
  const work: Dispatch[] = [], uniforms: GPUBuffer[] = [];
  for (const pass of sumPasses(n)) {
    const out = storageBuffer(device, pass.groups * 4);
    const { d, u } = await kernelDispatch(ctx, kernel, [bufs[bufs.length - 1], out],
      { outer: 1, r: pass.r, inner: 1, chunk: pass.chunk, groups: pass.groups, colBlocks: 1 }, pass.groups);
    work.push(d); uniforms.push(u); bufs.push(out);
  }
  const timing = await timeDispatches(ctx, work, t);
  const [got] = await readF32(device, bufs[bufs.length - 1], 1);
  let ref = 0, abs = 0;
  for (let i = 0; i < n; i++) { ref += X[i]; abs += Math.abs(X[i]); }
  for (const x of [...bufs, ...uniforms]) x.destroy();
  return {
    name: `sum_f32_${label(n)}`, op: 'sum', dtype: 'f32', shape: [n],
    ms: timing.medianMs, minMs: timing.minMs, samples: timing.samples.length, timing: timing.method,
    gflops: n / timing.medianMs / 1e6, gbps: (4 * n) / timing.medianMs / 1e6,
    kernel: `${kernel.key} ×${work.length} passes`, maxRelErr: Math.abs(got - ref) / abs,
  };
}

/** copyBufferToBuffer of n f32: the device's own bandwidth ceiling, for scale (bytes read + written). */
export async function benchCopy(ctx: GpuContext, n: number, t: TimingOptions): Promise<KernelBenchRow> {
  const { device } = ctx;
  const src = uploadF32(device, randomF32(n, 41)), dst = storageBuffer(device, n * 4);
  const times: number[] = [];
  const run = async (reps: number) => {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < reps; i++) enc.copyBufferToBuffer(src, 0, dst, 0, n * 4);
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  for (let i = 0; i < t.warmup; i++) await run(1);
  const one = await run(1);
  const reps = Math.max(1, Math.min(200, Math.ceil((4 * t.targetMs) / Math.max(one, 1e-3))));
  for (let s = 0; s < t.samples; s++) times.push((await run(reps)) / reps);
  src.destroy(); dst.destroy();
  times.sort((x, y) => x - y);
  const ms = times[times.length >> 1];
  return {
    name: `copy_f32_${label(n)}`, op: 'copy', dtype: 'f32', shape: [n], ms, minMs: times[0], samples: times.length,
    gflops: 0, gbps: (8 * n) / ms / 1e6, kernel: 'copyBufferToBuffer', timing: 'wall-clock', note: `${reps} copies per sample`,
  };
}

/** The backend's strided-copy kernel (kernels/copy.ts) on a contiguous view: copy bandwidth through the SMs. */
export async function benchCopyKernel(ctx: GpuContext, n: number, t: TimingOptions): Promise<KernelBenchRow> {
  const { device } = ctx;
  const X = randomF32(n, 51);
  const src = uploadF32(device, X), dst = storageBuffer(device, n * 4);
  const plan = contiguousPlan(n, ['s']);
  const kernel = copyKernel(1, plan.vec4);
  const { d, u } = await kernelDispatch(ctx, kernel, [src, dst], plan.values, Math.ceil(plan.units / kernel.workgroupSize));
  const timing = await timeDispatches(ctx, [d], t);
  const got = await readF32(device, dst, n);
  let bad = 0;
  for (let i = 0; i < n; i++) if (got[i] !== X[i]) bad++;
  for (const x of [src, dst, u]) x.destroy();
  return {
    name: `copy_kernel_f32_${label(n)}`, op: 'copy', dtype: 'f32', shape: [n],
    ms: timing.medianMs, minMs: timing.minMs, samples: timing.samples.length, timing: timing.method,
    gflops: 0, gbps: (8 * n) / timing.medianMs / 1e6, kernel: kernel.key, maxRelErr: bad / n,
  };
}
