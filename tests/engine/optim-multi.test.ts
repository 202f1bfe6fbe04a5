// The multi-tensor optimizer step and the device-side clip (issue 17, step overhead): bitwise the
// per-tensor AdamW routine it replaced, fewer dispatches, and the global norm against float64.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import * as routines from '../../backends/routines/index.ts';
import { AdamW } from '../../engine/optim/adamw.ts';
import { Lion } from '../../engine/optim/lion.ts';
import { clipGradNorm, gradNormScale } from '../../engine/optim/clip.ts';
import { testBackends } from '../setup/backends.ts';
import type { WebGPUBackend } from '../../backends/webgpu/backend.ts';

// Sizes that cross vec4 and workgroup boundaries; 7 tensors span several groups on any adapter.
const SIZES = [1, 5, 8, 13, 300, 4, 517];
const HYPER = { lr: 0.05, betas: [0.9, 0.99] as [number, number], eps: 1e-8, weightDecay: 0.1 };

/** Deterministic values in about [-1, 1] (a sine hash: no generator shared with other tests). */
function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 1.3);
}

/** The per-tensor path the multi-tensor step replaced: one `adamw` routine call per parameter. */
async function perTensor(backend: w.Backend, steps: number, scaleBy: ((gs: w.Tensor[]) => w.Tensor) | null) {
  const ps = SIZES.map((n, j) => w.tensor(values(n, j + 1), [n], { backend }));
  const ms = SIZES.map((n) => w.zeros([n], { backend })), vs = SIZES.map((n) => w.zeros([n], { backend }));
  for (let s = 1; s <= steps; s++) {
    let gs = SIZES.map((n, j) => w.tensor(values(n, 100 * s + j), [n], { backend }));
    if (scaleBy) {
      const scale = scaleBy(gs);
      gs = gs.map((g) => w.mul(g, scale));
    }
    ps.forEach((p, j) => backend.run(routines.adamw, p.storage, gs[j].storage, ms[j].storage, vs[j].storage, {
      lr: HYPER.lr, beta1: HYPER.betas[0], beta2: HYPER.betas[1], eps: HYPER.eps, weightDecay: HYPER.weightDecay, step: s,
    }));
  }
  const out = await Promise.all(ps.map((p) => p.data()));
  w.dispose([ps, ms, vs]);
  return out;
}

/** The same steps through AdamW.step (multi-tensor), optionally with the device-side clip scale. */
async function multi(backend: w.Backend, steps: number, maxNorm: number | null) {
  const ps = SIZES.map((n, j) => w.tensor(values(n, j + 1), [n], { backend }));
  const opt = new AdamW(ps, HYPER);
  const norms: w.Tensor[] = [];
  for (let s = 1; s <= steps; s++) {
    ps.forEach((p, j) => { p.grad = w.tensor(values(SIZES[j], 100 * s + j), [SIZES[j]], { backend }).keep(); });
    if (maxNorm === null) opt.step();
    else {
      const { norm, scale } = gradNormScale(ps, maxNorm);
      opt.step(scale);
      norms.push(norm.keep());
      scale.dispose();
    }
    opt.zeroGrad();
  }
  const out = await Promise.all(ps.map((p) => p.data()));
  const normValues = await Promise.all(norms.map((n) => n.item()));
  opt.dispose();
  w.dispose([ps, norms]);
  return { out, normValues };
}

function sameBits(a: ArrayLike<number>[], b: ArrayLike<number>[]): void {
  a.forEach((x, j) => expect(Array.from(x)).toEqual(Array.from(b[j])));
}

/** float64 global norm of the step-s gradients (stored as f32 unless the backend keeps float64). */
function refNorm(s: number, f64: boolean): number {
  let sq = 0;
  SIZES.forEach((n, j) => { for (const x of values(n, 100 * s + j)) { const f = f64 ? x : Math.fround(x); sq += f * f; } });
  return Math.sqrt(sq);
}

for (const { name, get } of testBackends()) {
  describe(`multi-tensor AdamW and clip on ${name}`, () => {
    it('AdamW.step is bitwise the per-tensor adamw routine over 3 steps', async () => {
      const backend = await get();
      sameBits((await multi(backend, 3, null)).out, await perTensor(backend, 3, null));
    });

    it('the clip scale applied inside the step is bitwise the separate gradient multiply', async () => {
      const backend = await get();
      const maxNorm = 2; // below every step's norm (≈ 17), so the scale is < 1 and matters
      const got = await multi(backend, 3, maxNorm);
      // The reference multiplies by the same device scale (one `mul` per gradient) and then runs the per-tensor routine.
      const want = await perTensor(backend, 3, (gs) => {
        const p = gs.map((g) => { const t = w.zeros(g.shape, { backend }); t.grad = g; return t; });
        return gradNormScale(p, maxNorm).scale;
      });
      sameBits(got.out, want);
      got.normValues.forEach((n, i) => expect(n).toBeCloseTo(refNorm(i + 1, name === 'cpu-f64'), name === 'cpu-f64' ? 10 : 4));
    });

    it('gradNormScale matches float64 over many tensors and a long one; Infinity gives scale 1', async () => {
      const backend = await get();
      // 20 tensors: more than one partial-sum dispatch; 70,000 elements: workgroups that loop.
      const sizes = [...Array.from({ length: 19 }, (_, j) => 3 + 7 * j), 70_000];
      const ps = sizes.map((n, j) => {
        const p = w.zeros([n], { backend });
        p.grad = w.tensor(values(n, 500 + j), [n], { backend }).keep();
        return p;
      });
      let sq = 0;
      sizes.forEach((n, j) => { for (const x of values(n, 500 + j)) { const f = name === 'cpu-f64' ? x : Math.fround(x); sq += f * f; } });
      const norm = Math.sqrt(sq);
      const clipped = gradNormScale(ps, 3), free = gradNormScale(ps, Infinity);
      const tol = name === 'cpu-f64' ? 1e-12 : 1e-5;
      expect(Math.abs(await clipped.norm.item() - norm) / norm).toBeLessThan(tol);
      expect(Math.abs(await clipped.scale.item() - 3 / (norm + 1e-6))).toBeLessThan(tol);
      expect(await free.scale.item()).toBe(1);
      expect(Math.abs(await free.norm.item() - norm) / norm).toBeLessThan(tol);
      // clipGradNorm scales the gradients themselves to the max norm.
      const n = clipGradNorm(ps, 3);
      let after = 0;
      for (const p of ps) for (const x of await p.grad!.data()) after += x * x;
      expect(Math.sqrt(after)).toBeCloseTo(3, 4);
      w.dispose([ps, clipped, free, n]);
    });

    it('optimizers without a fused step (Lion) apply step(scale) as a gradient multiply first', async () => {
      const backend = await get();
      const run = async (scaled: boolean) => {
        const p = w.tensor([0.5, -1.25, 2, 0.1], [4], { backend });
        const opt = new Lion([p], { lr: 0.01, weightDecay: 0.5 });
        for (const s of [1, 2, 3]) {
          const g = w.tensor(values(4, s), [4], { backend });
          const scale = w.tensor([0.25], [], { backend });
          p.grad = (scaled ? g : w.mul(g, scale)).keep();
          opt.step(scaled ? scale : null);
          opt.zeroGrad(); // disposes p.grad
          scale.dispose();
          if (!scaled) g.dispose();
        }
        const out = await p.data();
        opt.dispose(); p.dispose();
        return out;
      };
      expect(Array.from(await run(true))).toEqual(Array.from(await run(false)));
    });

    if (name === 'webgpu') {
      it('dispatches: ⌈N / K⌉ for the step and ⌈N / (L − 1)⌉ + 1 for the norm (was N and ~4N)', async () => {
        const backend = (await get()) as unknown as WebGPUBackend;
        const L = backend.device.limits.maxStorageBuffersPerShaderStage;
        const ps = SIZES.map((n, j) => w.tensor(values(n, j + 1), [n], { backend }));
        ps.forEach((p, j) => { p.grad = w.tensor(values(SIZES[j], 7 + j), [SIZES[j]], { backend }).keep(); });
        const opt = new AdamW(ps, HYPER);
        opt.step(); // the moments' zero-fills happen on the first step
        const d0 = backend.counters.dispatches;
        const { norm, scale } = gradNormScale(ps, 1);
        const d1 = backend.counters.dispatches;
        opt.step(scale);
        const d2 = backend.counters.dispatches;
        const N = SIZES.length, K = Math.min(8, Math.floor((L - 1) / 4));
        expect(d1 - d0).toBe(Math.ceil(N / Math.min(16, L - 1)) + 1);
        expect(d2 - d1).toBe(Math.ceil(N / K));
        expect(d2 - d1).toBeLessThan(N);
        opt.dispose();
        w.dispose([ps, norm, scale]);
      });
    }
  });
}
