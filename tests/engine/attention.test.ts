// scaledDotProductAttention against an independent composition of existing ops (k/v heads repeated
// by broadcasting, matmul, an additive mask built on the host, softmax, matmul), values and
// gradients, on every test backend; and its gradients against float64 central finite differences.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { valueAndGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import * as w from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { rng, uniform } from '../backends/compare.ts';
import { checkOp } from '../core/ops/check.ts';
import { testBackends } from '../setup/backends.ts';

interface Case {
  name: string;
  B: number; H: number; KV: number; T: number; S: number; D: number;
  past?: number;
  scale?: number;
  seg?: [number[][], number[][]];
}

/** The visibility rule written out once more, independently of the backends: s ≤ past + t, same segment. */
function sees(c: Case, b: number, t: number, s: number): boolean {
  const past = c.past ?? c.S - c.T;
  return s <= past + t && (!c.seg || c.seg[0][b][t] === c.seg[1][b][s]);
}

/** softmax(scale · q kᵀ + mask) v with repeated kv heads; rows that see nothing are zeroed. */
function composite(c: Case, q: Tensor, k: Tensor, v: Tensor): Tensor {
  const { B, H, KV, T, S, D } = c, G = H / KV;
  const repeat = (x: Tensor) => w.reshape(w.broadcastTo(w.reshape(x, [B, KV, 1, S, D]), [B, KV, G, S, D]), [B, H, S, D]);
  const mask = new Float64Array(B * T * S), rowOk = new Float64Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < S; s++) {
        const ok = sees(c, b, t, s);
        mask[(b * T + t) * S + s] = ok ? 0 : -1e9;
        if (ok) rowOk[b * T + t] = 1;
      }
    }
  }
  const be = q.backend;
  const scores = w.mul(w.matmul(q, repeat(k), { transB: true }), c.scale ?? 1 / Math.sqrt(D));
  const p = w.softmax(w.add(scores, w.tensor(mask, [B, 1, T, S], { backend: be })), -1);
  return w.mul(w.matmul(p, repeat(v)), w.tensor(rowOk, [B, 1, T, 1], { backend: be }));
}

function fused(c: Case, q: Tensor, k: Tensor, v: Tensor): Tensor {
  const be = q.backend;
  const seg = c.seg
    ? { segQ: w.tensor(Int32Array.from(c.seg[0].flat()), [c.B, c.T], { backend: be }), segK: w.tensor(Int32Array.from(c.seg[1].flat()), [c.B, c.S], { backend: be }) }
    : {};
  return w.scaledDotProductAttention(q, k, v, { past: c.past, scale: c.scale, ...seg });
}

const cases: Case[] = [
  { name: 'causal MHA', B: 2, H: 2, KV: 2, T: 5, S: 5, D: 4 },
  { name: 'GQA, odd sizes', B: 1, H: 6, KV: 2, T: 7, S: 7, D: 3, scale: 0.7 },
  { name: 'decode step (T = 1, past 6)', B: 2, H: 4, KV: 1, T: 1, S: 7, D: 8 },
  { name: 'chunk after a cache, explicit past', B: 1, H: 2, KV: 1, T: 3, S: 8, D: 5, past: 5 },
  { name: 'packed segments with padding', B: 2, H: 2, KV: 1, T: 6, S: 6, D: 4, seg: [[[1, 1, 2, 2, 2, 0], [1, 1, 1, 1, 0, 0]], [[1, 1, 2, 2, 2, 0], [1, 1, 1, 1, 0, 0]]] },
  { name: 'left-padded cache, rows with no key', B: 1, H: 2, KV: 2, T: 3, S: 5, D: 4, seg: [[[1, 3, 1]], [[0, 0, 1, 1, 1]]] },
];

const shapes = (c: Case) => [[c.B, c.H, c.T, c.D], [c.B, c.KV, c.S, c.D], [c.B, c.KV, c.S, c.D]];

for (const { name, get } of testBackends()) {
  describe(`scaledDotProductAttention on ${name}`, () => {
    const rand = rng(11);
    for (const c of cases) {
      it(`${c.name}: values and gradients match the composite`, async () => {
        const be: Backend = await get();
        const f64 = be.precision === 'f64';
        const tol = f64 ? 1e-11 : 2e-5;
        const [xs, R] = tidy(() => {
          const ts = shapes(c).map((s) => w.tensor(Float64Array.from(uniform(rand, s.reduce((a, b) => a * b, 1), -2, 2)), s, { backend: be }).keep());
          return [ts, w.tensor(Float64Array.from(uniform(rand, c.B * c.H * c.T * c.D)), shapes(c)[0], { backend: be }).keep()] as const;
        });
        const run = async (f: typeof fused) => {
          const r = tidy(() => {
            const { value, grads } = valueAndGrad((q: Tensor, k: Tensor, v: Tensor) => w.sum(w.mul(f(c, q, k, v), R)))(xs[0], xs[1], xs[2]);
            return [f(c, xs[0], xs[1], xs[2]), value, ...(grads as Tensor[])];
          });
          const data = await Promise.all(r.map((t) => t.data()));
          r.forEach((t) => t.dispose());
          return data;
        };
        const got = await run(fused), want = await run(composite);
        const labels = ['out', 'loss', 'dq', 'dk', 'dv'];
        got.forEach((g, i) => {
          expect(g.length).toBe(want[i].length);
          for (let j = 0; j < g.length; j++) {
            const diff = Math.abs(g[j] - want[i][j]);
            if (!(diff <= tol * (1 + Math.abs(want[i][j])))) {
              expect.fail(`${c.name} ${labels[i]}[${j}]: got ${g[j]}, want ${want[i][j]} on ${be.description}`);
            }
          }
        });
        [...xs, R].forEach((t) => t.dispose());
      });
    }

    it('gradients of q, k, v match float64 finite differences (GQA, segments, decode)', async () => {
      const be = await get();
      for (const c of [cases[1], cases[2], cases[4], cases[5]]) {
        await checkOp({ name: `sdpa ${c.name}`, inputs: shapes(c).map((shape) => ({ shape })), fn: ([q, k, v]) => fused(c, q, k, v) }, be, 5);
      }
    });
  });
}

describe('scaledDotProductAttention argument checks', () => {
  const cpu = createCpuBackend();
  const t = (shape: number[], dtype: 'f32' | 'i32' = 'f32') => w.zeros(shape, { backend: cpu, dtype });
  it('names the op and what it expected', () => {
    const q = t([1, 4, 3, 8]), k = t([1, 2, 3, 8]);
    expect(() => w.scaledDotProductAttention(t([4, 3, 8]), k, k)).toThrow(/scaled_dot_product_attention: expected q \[B, H, T, D\]/);
    expect(() => w.scaledDotProductAttention(q, t([1, 3, 3, 8]), t([1, 3, 3, 8]))).toThrow(/query heads 4 must be a multiple of kv heads 3/);
    expect(() => w.scaledDotProductAttention(q, k, t([1, 2, 4, 8]))).toThrow(/must have one shape/);
    expect(() => w.scaledDotProductAttention(q, t([1, 2, 3, 4]), t([1, 2, 3, 4]))).toThrow(/must be \[B=1, KV, S, D=8\]/);
    expect(() => w.scaledDotProductAttention(q, k, k, { past: -1 })).toThrow(/past -1 must be a non-negative integer/);
    expect(() => w.scaledDotProductAttention(q, k, k, { segQ: t([1, 3], 'i32') })).toThrow(/both or neither/);
    expect(() => w.scaledDotProductAttention(q, k, k, { segQ: t([1, 3]), segK: t([1, 3], 'i32') })).toThrow(/segQ must be i32 \[1, 3\]/);
    expect(() => w.scaledDotProductAttention(q, k, k, { segQ: t([1, 3], 'i32'), segK: t([1, 4], 'i32') })).toThrow(/segK must be i32 \[1, 3\]/);
  });
});
