// The loraLinear routine on WebGPU (kernels/lora-linear.ts, fused into the tiled matmul) against the cpu
// backend: odd M/N/K, ranks 1, 4, 16, with and without bias, tile edges, the vec4 and unchecked
// specialisations, the unfused fallback (large r, N = 0) and argument errors.
// Needs a WebGPU adapter (SwiftShader in CI); skips with the reason if none.
import * as routines from '../../backends/routines/index.ts';
import { describe, expect } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { loraLinearKernel } from '../../kernels/lora-linear.ts';
import { webgpuSuite } from './gpu-suite.ts';
import { mismatch, rng, uniform } from './compare.ts';

const { SEED, cpu, gpuIt } = webgpuSuite();

/** Run loraLinear on one backend; returns y and xa. */
async function lora(b: Backend, M: number, N: number, K: number, r: number, data: number[][], bias: boolean, scale: number) {
  const [x, w, bi, a, lb] = data.map((d) => b.upload(d, 'f32'));
  const { y, xa } = b.run(routines.loraLinear, x, w, bias ? bi : null, a, lb, scale, M, N, K, r);
  const out = { y: await b.read(y), xa: await b.read(xa) };
  for (const s of [x, w, bi, a, lb, y, xa]) b.free(s);
  return out;
}

describe('webgpu loraLinear vs cpu', () => {
  const rand = rng(SEED);

  async function agree(g: Backend, M: number, N: number, K: number, r: number, bias: boolean, scale = 1.7) {
    const data = [uniform(rand, M * K), uniform(rand, N * K), uniform(rand, N), uniform(rand, r * K), uniform(rand, N * r)];
    const want = await lora(cpu, M, N, K, r, data, bias, scale), got = await lora(g, M, N, K, r, data, bias, scale);
    // |x|, |w|, |a|, |b| ≤ 1: rounding grows with K (base and xa) and r (the low-rank sum).
    const tol = { atol: 4e-7 * (K + r * K * Math.abs(scale)) + 1e-6, rtol: 1e-5 };
    const label = `M=${M} N=${N} K=${K} r=${r} bias=${bias} (seed ${SEED})`;
    expect(got.y.length).toBe(M * N);
    expect(got.xa.length).toBe(M * r);
    expect(mismatch(got.xa, want.xa, { atol: 4e-7 * K + 1e-6, rtol: 1e-5 }), `xa ${label}`).toBeNull();
    expect(mismatch(got.y, want.y, tol), `y ${label}`).toBeNull();
  }

  // [M, N, K]: 1s, primes, one past a tile (SMALL 32×32, SKINNY 16×64), K not a multiple of BK,
  // vec4-aligned checked (N, K % 4 = 0, M odd) and unchecked (all multiples of the tile).
  const shapes: [number, number, number][] = [
    [1, 1, 1], [3, 5, 7], [17, 33, 9], [33, 17, 13], [5, 65, 3], [16, 64, 16], [33, 36, 12], [64, 64, 32],
  ];
  for (const r of [1, 4, 16]) {
    gpuIt(`r = ${r}: odd shapes and tile edges, with and without bias`, async (g) => {
      for (const [M, N, K] of shapes) {
        await agree(g, M, N, K, r, true);
        await agree(g, M, N, K, r, false, -0.25);
      }
    });
  }

  gpuIt('the fused kernel is what runs at these shapes (not the fallback)', async (g) => {
    for (const [M, N, K] of shapes) {
      for (const r of [1, 4, 16]) {
        const k = loraLinearKernel({ m: M, n: N, k: K, r, bias: true, maxWorkgroupStorage: g.device.limits.maxComputeWorkgroupStorageSize });
        expect(k, `M=${M} N=${N} K=${K} r=${r}`).not.toBeNull();
      }
    }
    // vec4 unchecked and vec4 checked specialisations are among them.
    const key = (M: number, N: number, K: number) => loraLinearKernel({ m: M, n: N, k: K, r: 4, bias: false })!.key;
    expect(key(64, 64, 32)).toMatch(/_v4_unchk_/);
    expect(key(33, 36, 12)).toMatch(/_v4_chk_/);
    expect(key(17, 33, 9)).toMatch(/_s_chk_/);
  });

  gpuIt('unfused fallback: rank past the per-thread limit, N = 0, M = 0', async (g) => {
    expect(loraLinearKernel({ m: 9, n: 10, k: 11, r: 140, bias: true })).toBeNull(); // 9 columns per thread
    await agree(g, 9, 10, 11, 140, true);
    await agree(g, 9, 10, 11, 140, false);
    await agree(g, 4, 0, 5, 3, false);
    await agree(g, 0, 6, 5, 3, true);
  });

  gpuIt('K = 0: y is the bias, xa is zero', async (g) => {
    await agree(g, 3, 5, 0, 2, true);
  });

  gpuIt('bad arguments name the op and the field', async (g) => {
    const s = (n: number) => g.upload(new Float32Array(n), 'f32');
    const [x, w, a, b] = [s(6), s(6), s(3), s(4)];
    try {
      expect(() => g.run(routines.loraLinear, x, w, null, a, b, 1, 2, 2, 3, 1)).toThrow(/loraLinear: b must be f32 \[2, 1\] \(2 elements\), got f32 with 4 elements/);
      expect(() => g.run(routines.loraLinear, x, w, null, a, b, 1, 2, 2, 3, 2)).toThrow(/a must be f32 \[2, 3\] \(6 elements\), got f32 with 3 elements/);
      // The rank and scale themselves are the op's to validate (tests/engine/lora-fused.test.ts).
    } finally {
      for (const t of [x, w, a, b]) g.free(t);
    }
  });
});
