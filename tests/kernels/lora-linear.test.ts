// kernels/lora-linear.ts with forced matmul configurations (the 64×64 double-buffered and 128×128
// tiles a real GPU picks for large shapes, padded tiles, several LoRA columns per thread) on a raw
// WebGPU device, against a float64 reference written here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MatmulConfig } from '../../kernels/matmul.ts';
import { matmulDispatch, matmulUniform } from '../../kernels/matmul.ts';
import { loraLinearKernel } from '../../kernels/lora-linear.ts';
import { computePipeline, type GpuContext, openGpu, readF32, uniformBuffer, uploadF32 } from '../../bench/tuning/gpu.ts';
import { randomF32 } from '../../bench/tuning/matmul-run.ts';

let ctx: GpuContext;
beforeAll(async () => { ctx = await openGpu(); });
afterAll(() => { ctx?.close(); });

const MEDIUM: Partial<MatmulConfig> = { tileM: 64, tileN: 64, BK: 16, TM: 8, TN: 8, doubleBuffer: true };
const BIG: Partial<MatmulConfig> = { tileM: 128, tileN: 128, BK: 16, TM: 8, TN: 8, doubleBuffer: false };

let seed = 1;

async function check(M: number, N: number, K: number, r: number, bias: boolean, config: Partial<MatmulConfig>, expectKey: RegExp) {
  const { device } = ctx;
  const kernel = loraLinearKernel({ m: M, n: N, k: K, r, bias, config, maxWorkgroupStorage: device.limits.maxComputeWorkgroupStorageSize });
  expect(kernel, `M=${M} N=${N} K=${K} r=${r}`).not.toBeNull();
  expect(kernel!.key).toMatch(expectKey);
  const scale = 0.75;
  const x = randomF32(M * K, seed++), w = randomF32(N * K, seed++), bi = randomF32(N, seed++);
  const a = randomF32(r * K, seed++), b = randomF32(N * r, seed++);
  const bufs = [x, w].map((d) => uploadF32(device, d));
  // NaN poison: an element the kernel never writes fails the comparison.
  const y = uploadF32(device, new Float32Array(M * N).fill(NaN)), xa = uploadF32(device, new Float32Array(M * r).fill(NaN));
  const rest = [uploadF32(device, a), uploadF32(device, b), xa, ...(bias ? [uploadF32(device, bi)] : [])];
  const u = matmulUniform({ m: M, n: N, k: K, aBatchStride: 0, bBatchStride: 0, batchOffset: 0 });
  u[6] = r;
  u[7] = new Uint32Array(new Float32Array([scale]).buffer)[0];
  const ub = uniformBuffer(device, u);
  const all = [...bufs, y, ...rest, ub];
  const pipeline = await computePipeline(device, kernel!.code, kernel!.key);
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: all.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...matmulDispatch(kernel!, M, N, 1));
  pass.end();
  device.queue.submit([enc.finish()]);
  const gotY = await readF32(device, y, M * N), gotXa = await readF32(device, xa, M * r);
  for (const t of new Set([...all, ...rest])) t.destroy();

  let worstY = 0, worstXa = 0;
  for (let i = 0; i < M; i++) {
    const xar = new Float64Array(r);
    for (let j = 0; j < r; j++) {
      for (let l = 0; l < K; l++) xar[j] += x[i * K + l] * a[j * K + l];
      const e = Math.abs(gotXa[i * r + j] - xar[j]);
      if (!(e <= worstXa)) worstXa = e;
    }
    for (let n = 0; n < N; n++) {
      let s = bias ? bi[n] : 0, low = 0;
      for (let l = 0; l < K; l++) s += x[i * K + l] * w[n * K + l];
      for (let j = 0; j < r; j++) low += xar[j] * b[n * r + j];
      const e = Math.abs(gotY[i * N + n] - (s + scale * low));
      if (!(e <= worstY)) worstY = e;
    }
  }
  // randomF32 lies in ±1: f32 error ≤ K·u·Σ|ab| for the products, times r for the low-rank sum.
  const what = `${kernel!.key} M=${M} N=${N} K=${K} r=${r} bias=${bias}`;
  expect(worstXa, `${what}: xa`).toBeLessThanOrEqual(2 * K * K * 6e-8 + 1e-6);
  expect(worstY, `${what}: y`).toBeLessThanOrEqual(2 * (K * K + r * K * K) * 6e-8 + 1e-5);
}

describe('fused LoRA linear kernel (WebGPU) vs float64 reference, forced tiles', () => {
  // Scalar (unaligned) shapes run on the small tiles in tests/backends/webgpu-lora.test.ts; a forced
  // scalar 64×64 double-buffered kernel (plain matmul too) takes SwiftShader minutes to compile.
  it('64×64 double-buffered: vec4 checked and unchecked', async () => {
    await check(70, 72, 36, 16, true, MEDIUM, /^lora2x8b_.*64x64x16_8x8_v4_chk_db/);
    await check(64, 128, 32, 4, false, MEDIUM, /^lora1x8_.*_v4_unchk_db/);
  });
  it('128×128 single-buffered: checked and unchecked', async () => {
    await check(130, 132, 20, 16, true, BIG, /^lora1x16b_.*128x128x16_8x8_v4_chk_sb/);
    await check(128, 128, 16, 16, false, BIG, /_v4_unchk_sb/);
  });
  it('padded tiles; several LoRA columns per thread with a ragged last one (r = 33 on 8 threads across)', async () => {
    await check(66, 68, 24, 33, true, { ...MEDIUM, pad: true }, /^lora5x8b_.*_pad/);
  });
});
