// kernels/matmul.ts on a real WebGPU device (SwiftShader on CPU machines) against a float64 JS reference:
// odd shapes, all four transpose combinations, batch broadcasting, every specialisation
// (scalar/vec4, checked/unchecked, single/double buffer, padded tiles, each tile size).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmulKernel, type MatmulConfig } from '../../kernels/matmul.ts';
import { openGpu, readF32, uploadF32, type GpuContext } from '../../bench/tuning/gpu.ts';
import { kernelFor, matmulDispatches, randomF32, referenceMatmul, type MatmulProblem } from '../../bench/tuning/matmul-run.ts';

let ctx: GpuContext;
beforeAll(async () => { ctx = await openGpu(); });
afterAll(() => { ctx?.close(); });

let seed = 1;

async function check(p: MatmulProblem, config?: Partial<MatmulConfig>, expectKey?: RegExp, maxBatchPerDispatch?: number): Promise<string> {
  const { device } = ctx;
  const aLen = p.aBatchStride ? p.batch * p.aBatchStride : p.m * p.k;
  const bLen = p.bBatchStride ? p.batch * p.bBatchStride : p.k * p.n;
  const A = randomF32(aLen, seed++), B = randomF32(bLen, seed++);
  const kernel = kernelFor(ctx, p, config);
  if (expectKey) expect(kernel.key).toMatch(expectKey);
  const a = uploadF32(device, A), b = uploadF32(device, B);
  const cLen = p.batch * p.m * p.n;
  // NaN poison: an element the kernel never writes fails the comparison.
  const c = uploadF32(device, new Float32Array(cLen).fill(NaN));
  const { dispatches, uniforms } = await matmulDispatches(ctx, kernel, p, a, b, c, maxBatchPerDispatch);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const d of dispatches) { pass.setPipeline(d.pipeline); pass.setBindGroup(0, d.bindGroup); pass.dispatchWorkgroups(...d.groups); }
  pass.end();
  device.queue.submit([enc.finish()]);
  const got = await readF32(device, c, cLen);
  const want = referenceMatmul(p, A, B);
  // |fl(Σ ab) − Σ ab| ≤ k·u·Σ|ab| with u = 2⁻²⁴ and |a|, |b| ≤ 1; twice that, plus a floor.
  const tol = 2 * p.k * 6e-8 * p.k + 1e-6;
  let worst = 0, worstAt = -1;
  for (let i = 0; i < cLen; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= worst)) { worst = e; worstAt = i; }
  }
  const what = `${kernel.key} batch=${p.batch} m=${p.m} n=${p.n} k=${p.k} strides=${p.aBatchStride},${p.bBatchStride}`;
  expect(worst, `${what}: worst |error| ${worst} at ${worstAt} (got ${got[worstAt]}, want ${want[worstAt]})`).toBeLessThanOrEqual(tol);
  for (const x of [a, b, c, ...uniforms]) x.destroy();
  return kernel.key;
}

const prob = (batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean,
  aBroadcast = false, bBroadcast = false): MatmulProblem => ({
  batch, m, n, k, transA, transB,
  aBatchStride: aBroadcast || batch === 1 ? 0 : m * k,
  bBatchStride: bBroadcast || batch === 1 ? 0 : k * n,
});

const TRANS: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

// NN and TT between them generate every operand-copy path (A and B each transposed on the way into
// workgroup memory, and not); NT and TN run on the default choices. Each distinct kernel costs
// 0.5-4 s of SwiftShader shader compilation, so forced configurations run on NN and TT only.
describe('matmul kernel (WebGPU) vs float64 reference', () => {
  for (const [tA, tB] of TRANS) {
    const tag = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;

    it(`${tag}: odd shapes with the default choice (scalar, bounds-checked)`, async () => {
      for (const [m, n, k] of [[1, 1, 1], [3, 17, 5], [17, 3, 129], [33, 129, 7], [2, 65, 130]]) {
        await check(prob(1, m, n, k, tA, tB), undefined, /_s_chk_/);
      }
    });

    it(`${tag}: batches, with A or B broadcast over the batch`, async () => {
      await check(prob(3, 19, 7, 9, tA, tB));
      await check(prob(3, 17, 6, 11, tA, tB, true, false));
      await check(prob(2, 21, 19, 13, tA, tB, false, true));
      await check(prob(2, 20, 12, 24, tA, tB, true, false), undefined, /32x32x8_4x4_v4_chk/); // vec4 + broadcast
    });
  }

  for (const [tA, tB] of [[false, false], [true, true]] as const) {
    const tag = `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;

    it(`${tag}: 128×128 tiles, 8×8 per thread, on ragged edges (scalar, vec4, padded)`, async () => {
      const big4 = { tileM: 128, tileN: 128, BK: 4, TM: 8, TN: 8, doubleBuffer: true };
      await check(prob(1, 131, 133, 19, tA, tB), big4, /128x128x4_8x8_s_chk_db$/);
      await check(prob(2, 132, 136, 20, tA, tB), { ...big4, pad: true }, /128x128x4_8x8_v4_chk_db_pad$/);
      await check(prob(1, 68, 36, 24, tA, tB), { tileM: 64, tileN: 32, BK: 4, TM: 8, TN: 4, doubleBuffer: false, pad: false }, /_v4_chk_sb$/);
      // Row-major staging of the k-contiguous operand (A in NN, B in TT).
      await check(prob(2, 132, 136, 20, tA, tB, false, true), { ...big4, rowStage: true }, /128x128x4_8x8_v4_chk_db_rows$/);
    });

    it(`${tag}: aligned fast path (the kernel chosen for large aligned shapes, unchecked vec4)`, async () => {
      // The chooser picks BIG only when there are enough tiles; force it on a small aligned problem.
      const big = matmulKernel({ transA: tA, transB: tB, m: 4096, n: 4096, k: 4096, maxWorkgroupStorage: 16384 }).config;
      expect(big).toMatchObject({ tileM: 128, tileN: 128, vec4: true, checked: false });
      await check(prob(2, 128, 256, 32, tA, tB, true, false), big, /128x128x.*_v4_unchk_/);
    });
  }

  it('NT (x·Wᵀ) with both operands staged row-major: ragged and aligned', async () => {
    await check(prob(1, 132, 72, 28, false, true), { tileM: 128, tileN: 64, BK: 4, TM: 8, TN: 4, rowStage: true, doubleBuffer: false }, /128x64x4_8x4_v4_chk_sb_rows$/);
    await check(prob(2, 128, 64, 24, false, true, true, false), { tileM: 128, tileN: 64, BK: 8, TM: 8, TN: 4, rowStage: true, doubleBuffer: true }, /128x64x8_8x4_v4_unchk_db_rows$/);
  });

  it('medium tiles on an aligned shape, skinny M (matrix-vector), a batch split over dispatches', async () => {
    await check(prob(1, 64, 64, 48, false, true), { tileM: 64, tileN: 64, BK: 16, TM: 4, TN: 4, doubleBuffer: true }, /64x64x16_4x4_v4_unchk_db/);
    await check(prob(1, 1, 300, 77, false, true), undefined, /16x64/);
    await check(prob(1, 4, 64, 16, false, false), undefined, /16x64x8_4x4_v4_chk/);
    // Batches beyond maxComputeWorkgroupsPerDimension go out as several dispatches with batchOffset;
    // a limit of 2 exercises that path without 65536 workgroups on a software rasteriser.
    await check(prob(5, 3, 5, 7, false, false), undefined, undefined, 2);
    await check(prob(5, 3, 5, 7, true, true, true, false), undefined, undefined, 2);
  });

  it('rejects configurations that cannot work, naming the problem', () => {
    expect(() => matmulKernel({ transA: false, transB: false, m: 130, n: 128, k: 8, config: { tileM: 128, tileN: 128, BK: 8, TM: 8, TN: 8, vec4: true, checked: false } }))
      .toThrow(/unchecked kernel needs M % 128/);
    expect(() => matmulKernel({ transA: false, transB: false, m: 4, n: 6, k: 8, config: { vec4: true } }))
      .toThrow(/vec4 kernel needs/);
    expect(() => matmulKernel({ transA: false, transB: false, config: { tileM: 128, tileN: 128, BK: 32, TM: 8, TN: 8 } }))
      .toThrow(/workgroup memory/);
  });
});
