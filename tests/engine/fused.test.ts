// The fused rmsNorm / rope / swiglu ops against their composite definitions (the ops they replaced),
// in float64 on the cpu backend, so the fused kernels keep the exact semantics, backward included.
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { valueAndGrad } from '../../engine/autodiff.ts';
import * as w from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { rng, uniform } from '../backends/compare.ts';

const cpu = createCpuBackend({ precision: 'f64' });
const rand = rng(7);
const t = (shape: number[], lo = -2, hi = 2) =>
  w.tensor(Float64Array.from(uniform(rand, shape.reduce((a, b) => a * b, 1), lo, hi)), shape, { backend: cpu });

/** rope as composed ops (narrow/mul/sub/add/concat), as engine/ops/nn.ts had it before fusing. */
function ropeComposite(x: Tensor, opts: w.RopeOpts): Tensor {
  const T = x.shape[x.ndim - 2], D = x.shape[x.ndim - 1];
  const rd = opts.rotaryDim ?? D;
  const pos = opts.positions ?? Array.from({ length: T }, (_, i) => i + (opts.offset ?? 0));
  const perBatch = Array.isArray(pos[0]);
  const rows = perBatch ? (pos as number[][]) : [pos as number[]];
  let [cos, sin] = w.ropeTables(rows.flat(), rd, opts.theta ?? 10000, x);
  if (perBatch) { cos = w.reshape(cos, [rows.length, 1, T, rd / 2]); sin = w.reshape(sin, [rows.length, 1, T, rd / 2]); }
  const xr = rd === D ? x : w.narrow(x, -1, 0, rd);
  let rotated: Tensor;
  if ((opts.style ?? 'half') === 'half') {
    const x1 = w.narrow(xr, -1, 0, rd / 2), x2 = w.narrow(xr, -1, rd / 2, rd / 2);
    rotated = w.concat([w.sub(w.mul(x1, cos), w.mul(x2, sin)), w.add(w.mul(x2, cos), w.mul(x1, sin))], -1);
  } else {
    const pairs = w.reshape(xr, [...xr.shape.slice(0, -1), rd / 2, 2]);
    const x1 = w.reshape(w.narrow(pairs, -1, 0, 1), [...xr.shape.slice(0, -1), rd / 2]);
    const x2 = w.reshape(w.narrow(pairs, -1, 1, 1), [...xr.shape.slice(0, -1), rd / 2]);
    rotated = w.reshape(w.stack([w.sub(w.mul(x1, cos), w.mul(x2, sin)), w.add(w.mul(x1, sin), w.mul(x2, cos))], -1), xr.shape);
  }
  return rd === D ? rotated : w.concat([rotated, w.narrow(x, -1, rd, D - rd)], -1);
}

function rmsNormComposite(x: Tensor, weight: Tensor | null, eps: number): Tensor {
  const y = w.mul(x, w.rsqrt(w.add(w.mean(w.mul(x, x), -1, true), eps)));
  return weight ? w.mul(y, weight) : y;
}

/** Values and gradients (of Σ f(xs)·R) of the fused and composite versions agree to 1e-12. */
async function same(fused: (xs: Tensor[]) => Tensor, ref: (xs: Tensor[]) => Tensor, xs: Tensor[]) {
  const outShape = [...ref(xs).shape];
  const R = t(outShape);
  const run = async (f: (xs: Tensor[]) => Tensor) => {
    const { value, grads } = valueAndGrad((...a: Tensor[]) => w.sum(w.mul(f(a), R)))(...xs);
    return { y: await f(xs).data(), v: await value.item(), g: await Promise.all((grads as Tensor[]).map((g) => g.data())) };
  };
  const a = await run(fused), b = await run(ref);
  const close = (p: ArrayLike<number>, q: ArrayLike<number>) => {
    expect(p.length).toBe(q.length);
    for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - q[i])).toBeLessThan(1e-12 * (1 + Math.abs(q[i])));
  };
  close(a.y, b.y);
  close([a.v], [b.v]);
  a.g.forEach((g, i) => close(g, b.g[i]));
}

describe('fused ops match their composite definitions (cpu float64)', () => {
  const ropeCases: [string, number[], w.RopeOpts][] = [
    ['half, offset', [2, 3, 5, 8], { offset: 3 }],
    ['interleaved', [3, 5, 8], { style: 'interleaved', theta: 500 }],
    ['partial rotary dim', [3, 6], { rotaryDim: 4 }],
    ['partial interleaved', [2, 4, 10], { rotaryDim: 6, style: 'interleaved' }],
    ['per-batch positions', [2, 3, 4, 8], { positions: [[0, 1, 2, 3], [5, 6, 9, 17]], theta: 1000 }],
    ['per-batch, equal rows', [2, 1, 3, 4], { positions: [[7, 8, 9], [7, 8, 9]] }],
    ['per-batch interleaved partial', [3, 2, 2, 6], { positions: [[4, 5], [0, 1], [2, 7]], style: 'interleaved', rotaryDim: 4 }],
  ];
  for (const [name, shape, opts] of ropeCases) {
    it(`rope ${name}`, async () => {
      await same(([x]) => w.rope(x, opts), ([x]) => ropeComposite(x, opts), [t(shape)]);
    });
  }
  it('rope with shared tables equals rope with positions', async () => {
    const positions = [[2, 3], [0, 5]];
    const tables = new w.RopeTables(positions, 8, 10000, cpu);
    await same(([x]) => w.rope(x, { tables }), ([x]) => ropeComposite(x, { positions }), [t([2, 3, 2, 8])]);
  });
  it('rmsNorm with and without weight', async () => {
    await same(([x, g]) => w.rmsNorm(x, g, 1e-5), ([x, g]) => rmsNormComposite(x, g, 1e-5), [t([3, 17]), t([17])]);
    await same(([x]) => w.rmsNorm(x, null, 1e-6), ([x]) => rmsNormComposite(x, null, 1e-6), [t([2, 2, 5])]);
  });
  it('swiglu', async () => {
    await same(([g, u]) => w.swiglu(g, u), ([g, u]) => w.mul(w.silu(g), u), [t([4, 9], -8, 8), t([4, 9])]);
  });
  it('rope rejects mismatched tables', () => {
    const tables = new w.RopeTables([0, 1, 2], 8, 10000, cpu);
    expect(() => w.rope(t([2, 4, 8]), { tables })).toThrow(/tables hold 3 positions/);
    expect(() => w.rope(t([2, 3, 8]), { tables, rotaryDim: 4 })).toThrow(/differs/);
  });
});
