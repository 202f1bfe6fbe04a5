// The fused transformer primitives (rmsNorm, rope, swiglu) on the WebGPU backend against the cpu
// backend at odd sizes, folded grids and the scalar/vec4 kernel variants.
// Needs a WebGPU adapter (SwiftShader in CI); skips with the reason if none.
import * as routines from '../../backends/routines/index.ts';
import { describe, expect } from 'vitest';
import type { Backend, Storage } from '../../backends/backend.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { webgpuSuite } from './gpu-suite.ts';
import { mismatch, rng, type Tol, uniform } from './compare.ts';

const { SEED, cpu, gpuIt } = webgpuSuite();

const TOL: Tol = { atol: 2e-6, rtol: 2e-5 };
type Op = (b: Backend, xs: Storage[]) => Storage;

async function agree(g: Backend, label: string, inputs: number[][], f: Op, tol = TOL) {
  const run = async (b: Backend) => {
    const xs = inputs.map((d) => b.upload(d, 'f32'));
    const out = f(b, xs);
    const data = await b.read(out);
    for (const x of xs) b.free(x);
    b.free(out);
    return data;
  };
  const want = await run(cpu), got = await run(g);
  expect(mismatch(got, want, tol), `${label} (seed ${SEED})`).toBeNull();
}

/** cos/sin tables [n, h] of angles in a realistic range (positions up to 2048). */
function tables(rand: () => number, n: number): [number[], number[]] {
  const ang = uniform(rand, n, -2048, 2048);
  return [ang.map(Math.cos), ang.map(Math.sin)];
}

describe('webgpu fused primitives vs cpu', () => {
  const rand = rng(SEED);

  gpuIt('rmsNorm: cols 1, 3, 4, 17, 129, 576, 2500; with and without weight', async (g) => {
    for (const [rows, cols] of [[1, 1], [5, 3], [3, 4], [7, 17], [2, 129], [4, 576], [3, 2500], [1, 1025]]) {
      const x = uniform(rand, rows * cols, -3, 3), w = uniform(rand, cols, -2, 2);
      await agree(g, `rmsNorm [${rows},${cols}]`, [x, w], (b, [xs, ws]) => b.run(routines.rmsNorm, xs, ws, rows, cols, 1e-5));
      await agree(g, `rmsNorm [${rows},${cols}] no weight`, [x], (b, [xs]) => b.run(routines.rmsNorm, xs, null, rows, cols, 1e-6));
    }
    // A zero row: the result is 0 (eps keeps the scale finite), not NaN.
    await agree(g, 'rmsNorm zero row', [[0, 0, 0, 0, 0, 1, 2, 3, 4, 5]], (b, [xs]) => b.run(routines.rmsNorm, xs, null, 2, 5, 1e-5));
  });

  gpuIt('rope: both styles, partial rotary dims, per-sequence tables, odd T', async (g) => {
    const cases: [number, number, number, number, number][] = [ // rows, T, D, rotaryDim, tableBlocks
      [1, 1, 2, 2, 1], [3, 17, 8, 8, 1], [9, 1, 64, 64, 1], [2, 3, 6, 4, 1], [6, 5, 10, 6, 2], [4, 129, 4, 2, 4], [3, 2, 5, 0, 1],
    ];
    for (const [rows, T, D, rd, blocks] of cases) {
      const x = uniform(rand, rows * T * D, -2, 2);
      const [c, s] = tables(rand, blocks * T * (rd / 2));
      for (const style of ['half', 'interleaved'] as const) {
        await agree(g, `rope ${style} [${rows},${T},${D}] rd ${rd} blocks ${blocks}`, [x, c, s],
          (b, [xs, cs, ss]) => b.run(routines.rope, xs, cs, ss, rows, T, D, rd, style, blocks));
      }
    }
  });

  gpuIt('swiglu: sizes 1, 3, 17, 129, 1536 (scalar and vec4)', async (g) => {
    for (const n of [1, 3, 17, 129, 1536]) {
      await agree(g, `swiglu n=${n}`, [uniform(rand, n, -20, 20), uniform(rand, n, -3, 3)], (b, [a, u]) => b.run(routines.swiglu, a, u));
    }
    await agree(g, 'swiglu NaN gate', [[NaN, 1, 2, 3], [1, 1, 1, 1]], (b, [a, u]) => b.run(routines.swiglu, a, u));
  });

  gpuIt('folded grids: more rows than workgroups per dimension', async () => {
    const small = await createWebGPUBackend({ maxWorkgroupsPerDimension: 5 });
    try {
      await agree(small, 'rmsNorm, 23 rows', [uniform(rand, 23 * 30), uniform(rand, 30)], (b, [x, w]) => b.run(routines.rmsNorm, x, w, 23, 30, 1e-5));
      const [c, s] = tables(rand, 2 * 8 * 16); // 16·8·32 elements = 16 workgroups of 256
      await agree(small, 'rope over a folded grid', [uniform(rand, 16 * 8 * 32), c, s], (b, [x, cs, ss]) => b.run(routines.rope, x, cs, ss, 16, 8, 32, 32, 'half', 2));
      await agree(small, 'swiglu over a folded grid', [uniform(rand, 5001), uniform(rand, 5001)], (b, [a, u]) => b.run(routines.swiglu, a, u));
    } finally {
      small.destroy();
    }
  });

  gpuIt('bad arguments name the op and the sizes', async (g) => {
    const x = g.upload(new Float32Array(12), 'f32'), t = g.upload(new Float32Array(6), 'f32');
    try {
      expect(() => g.run(routines.rmsNorm, x, t, 3, 4, 1e-5)).toThrow(/rmsNorm: weight must be f32 \[4\]/);
      expect(() => g.run(routines.rope, x, t, t, 1, 3, 4, 3, 'half', 1)).toThrow(/rotaryDim 3 must be even/);
      expect(() => g.run(routines.rope, x, t, t, 1, 3, 4, 4, 'half', 2)).toThrow(/tableBlocks 2 must divide rows 1/);
      expect(() => g.run(routines.swiglu, x, t)).toThrow(/swiglu: up must be f32 \[12\] \(12 elements\), got f32 with 6 elements/);
    } finally {
      g.free(x);
      g.free(t);
    }
  });
});
