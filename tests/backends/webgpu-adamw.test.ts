// The fused AdamW routine (backends/routines/adamw.ts, in place on p, m, v) on the WebGPU backend against
// the cpu backend at odd sizes (scalar and vec4 kernels), several consecutive steps, a folded
// grid, and the argument checks. Needs a WebGPU adapter (SwiftShader in CI); skips if none.
import * as routines from '../../backends/routines/index.ts';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import type { AdamWParams } from '../../backends/routines/index.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { webgpuSuite } from './gpu-suite.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { mismatch, rng, type Tol, uniform } from './compare.ts';

const { SEED, cpu, gpuIt } = webgpuSuite();

const TOL: Tol = { atol: 1e-6, rtol: 1e-5 };

/** Runs `steps` fused steps on one backend from the same start; returns p, m, v. */
async function steps(b: Backend, p0: number[], m0: number[], v0: number[], grads: number[][], o: Omit<AdamWParams, 'step'>) {
  const [p, m, v] = [p0, m0, v0].map((d) => b.upload(d, 'f32'));
  grads.forEach((gd, i) => {
    const g = b.upload(gd, 'f32');
    b.run(routines.adamw, p, g, m, v, { ...o, step: i + 1 });
    b.free(g);
  });
  const out = await Promise.all([p, m, v].map((s) => b.read(s)));
  for (const s of [p, m, v]) b.free(s);
  return out;
}

async function agree(g: Backend, n: number, rand: () => number, o: Omit<AdamWParams, 'step'>, nSteps = 3) {
  const p0 = uniform(rand, n, -2, 2), m0 = uniform(rand, n, -0.1, 0.1), v0 = uniform(rand, n, 0, 0.05);
  const grads = Array.from({ length: nSteps }, () => uniform(rand, n, -1, 1));
  const want = await steps(cpu, p0, m0, v0, grads, o), got = await steps(g, p0, m0, v0, grads, o);
  ['p', 'm', 'v'].forEach((name, i) => expect(mismatch(got[i], want[i], TOL), `adamw n=${n} ${name} (seed ${SEED})`).toBeNull());
}

const OPTS = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

describe('webgpu adamw vs cpu', () => {
  const rand = rng(SEED);

  gpuIt('sizes 1, 3, 17, 129, 4099 (scalar) and 4, 1536 (vec4), three steps', async (g) => {
    for (const n of [1, 3, 17, 129, 4099, 4, 1536]) await agree(g, n, rand, OPTS);
    await agree(g, 129, rand, { lr: 0.1, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0 }, 5);
  });

  gpuIt('folded grid: more workgroups than one dimension holds', async () => {
    const small = await createWebGPUBackend({ maxWorkgroupsPerDimension: 5 });
    try {
      await agree(small, 6001, rand, OPTS); // 24 workgroups of 256 (scalar)
      await agree(small, 4 * 256 * 7, rand, OPTS); // 7 workgroups of 256 vec4s
    } finally {
      small.destroy();
    }
  });

  gpuIt('bad arguments name the op', async (g) => {
    const a = g.upload(new Float32Array(8), 'f32'), b = g.upload(new Float32Array(8), 'f32');
    const c = g.upload(new Float32Array(8), 'f32'), d = g.upload(new Float32Array(6), 'f32'), e = g.upload(new Float32Array(8), 'f32');
    try {
      expect(() => g.run(routines.adamw, a, b, c, d, { ...OPTS, step: 1 })).toThrow(/adamw: v must be f32 \[8\] \(8 elements\), got f32 with 6 elements/);
      expect(() => g.run(routines.adamw, a, b, c, c, { ...OPTS, step: 1 })).toThrow(/adamw: p, g, m and v must be four distinct/);
      expect(() => g.run(routines.adamw, a, b, c, b, { ...OPTS, step: 0 })).toThrow(/adamw: p, g, m and v must be four distinct/);
      expect(() => cpu.run(routines.adamw, a, b, c, e, { ...OPTS, step: 1 })).toThrow(/another backend/);
    } finally {
      for (const s of [a, b, c, d, e]) g.free(s);
    }
  });
});

describe('cpu adamw', () => {
  it('matches the update written out in float64 (f64 mode)', async () => {
    const b = createCpuBackend({ precision: 'f64' });
    const p = b.upload([1, -2], 'f32'), g = b.upload([0.5, 0.25], 'f32'), m = b.upload([0, 0], 'f32'), v = b.upload([0, 0], 'f32');
    b.run(routines.adamw, p, g, m, v, { ...OPTS, step: 1 });
    const got = await b.read(p);
    // Step 1: m̂ = g, v̂ = g², so p ← p·(1 − lr·wd) − lr·g/(|g| + eps).
    const want = [1 * (1 - 0.001) - 0.01 * 0.5 / (0.5 + 1e-8), -2 * (1 - 0.001) - 0.01 * 0.25 / (0.25 + 1e-8)];
    expect(got[0]).toBeCloseTo(want[0], 14);
    expect(got[1]).toBeCloseTo(want[1], 14);
  });
});
