// tokenLogprobs (the fused per-token log-probability op) and what sits on it — crossEntropy and
// sequenceLogprobs — against float64 formulas written out here, float64 finite differences, and
// the memory the composed logsumexp − gather version needed.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { valueAndGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { sequenceLogprobs } from '../../llm/methods/logprobs.ts';
import * as w from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { ints, rng, uniform } from '../backends/compare.ts';
import { checkOp, type OpSpec } from '../core/ops/check.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

const IGN = -100;

/** log_softmax(row)[t] in float64 (max-subtracted). */
function refLogp(row: ArrayLike<number>, t: number): number {
  let m = -Infinity;
  for (let c = 0; c < row.length; c++) m = Math.max(m, row[c]);
  let s = 0;
  for (let c = 0; c < row.length; c++) s += Math.exp(row[c] - m);
  return row[t] - m - Math.log(s);
}

/** d(Σ_r g_r · logp_r)/d logits = g_r · (onehot(t_r) − softmax(row_r)), zero on ignored rows. */
function refGrad(x: number[], targets: number[], g: number[], V: number, ignore: number | null): number[] {
  const out = new Array(x.length).fill(0);
  targets.forEach((t, r) => {
    if (t === ignore) return;
    const row = x.slice(r * V, (r + 1) * V);
    const lse = row[t] - refLogp(row, t);
    for (let c = 0; c < V; c++) out[r * V + c] = g[r] * ((c === t ? 1 : 0) - Math.exp(row[c] - lse));
  });
  return out;
}

interface Inputs { x: number[]; targets: number[]; g: number[] }

function inputs(rand: () => number, rows: number, V: number, ignore: number | null, lo = -5, hi = 5): Inputs {
  const targets = ints(rand, rows, 0, V - 1);
  if (ignore !== null) for (let r = 1; r < rows; r += 3) targets[r] = ignore;
  // Values an f32 holds exactly, so every backend sees the same numbers as the float64 reference.
  return { x: uniform(rand, rows * V, lo, hi).map(Math.fround), targets, g: uniform(rand, rows, -2, 2).map(Math.fround) };
}

for (const { name, get } of testBackends()) {
  describe(`token_logprobs on ${name}`, () => {
    const rand = rng(11);
    const tolFor = (b: Backend) => (b.precision === 'f64' ? { atol: 1e-12, rtol: 1e-12 } : { atol: 2e-5, rtol: 2e-5 });

    it('values and gradients match the float64 formula (cols 1, 3, 8, 17, 129; ignored rows; lead dims)', async () => {
      const backend = await get();
      const cases: [number[], number | null][] = [[[1, 1], null], [[4, 1], IGN], [[2, 3, 3], IGN], [[5, 8], null], [[3, 17], IGN], [[2, 2, 129], IGN], [[7, 4], 0]];
      for (const [shape, ignore] of cases) {
        const V = shape[shape.length - 1], lead = shape.slice(0, -1);
        const rows = lead.reduce((a, b) => a * b, 1);
        const { x, targets, g } = inputs(rand, rows, V, ignore);
        const label = `[${shape}] ignore ${ignore} on ${backend.description}`;
        const X = w.tensor(Float64Array.from(x), shape, { backend });
        const Tg = w.tensor(Int32Array.from(targets), lead, { backend });
        const G = w.tensor(Float64Array.from(g), lead, { backend });
        const opts = ignore === null ? {} : { ignoreIndex: ignore };
        const { value, grads } = valueAndGrad((xt: Tensor) => w.sum(w.mul(w.tokenLogprobs(xt, Tg, opts), G)))(X);
        const logp = w.tokenLogprobs(X, Tg, opts);
        expect(logp.shape).toEqual(lead);
        const want = targets.map((t, r) => (t === ignore ? 0 : refLogp(x.slice(r * V, (r + 1) * V), t)));
        allClose(await logp.data(), want, { ...tolFor(backend), label: `${label} logp` });
        allClose([await value.item()], [want.reduce((a, v, r) => a + v * g[r], 0)], { ...tolFor(backend), label: `${label} value` });
        allClose(await (grads[0] as Tensor).data(), refGrad(x, targets, g, V, ignore), { ...tolFor(backend), label: `${label} grad` });
      }
    });

    it('finite-difference gradient check at odd and vec4 vocabularies', async () => {
      const backend = await get();
      const specs: OpSpec[] = [
        { name: 'token_logprobs [2,129]', inputs: [{ shape: [2, 129], lo: -6, hi: 6 }, { shape: [2], kind: 'int', lo: 0, hi: 129 }],
          fn: ([x, t]) => w.tokenLogprobs(x, t) },
        { name: 'token_logprobs [6,4] ignore 0', inputs: [{ shape: [6, 4] }, { shape: [6], kind: 'int', lo: 0, hi: 4 }],
          fn: ([x, t]) => w.tokenLogprobs(x, t, { ignoreIndex: 0 }) },
        { name: 'token_logprobs [3,2,5] ignore -1', inputs: [{ shape: [3, 2, 5], lo: -20, hi: 20 }, { shape: [3, 2], kind: 'int', lo: -1, hi: 5 }],
          fn: ([x, t]) => w.tokenLogprobs(x, t, { ignoreIndex: -1 }) },
      ];
      for (const spec of specs) await checkOp(spec, backend, 1234);
    });

    it('crossEntropy keeps its reductions, mask and ignoreIndex semantics', async () => {
      const backend = await get();
      const rows = 6, V = 9;
      const { x, targets } = inputs(rand, rows, V, IGN);
      const mask = [1, 0, 1, 1, 0, 1];
      const nll = targets.map((t, r) => (t === IGN ? 0 : -refLogp(x.slice(r * V, (r + 1) * V), t)));
      const X = w.tensor(Float64Array.from(x), [rows, V], { backend });
      const Tg = w.tensor(Int32Array.from(targets), [rows], { backend });
      const M = w.tensor(mask, [rows], { backend });
      const tol = tolFor(backend);
      const counted = targets.map((t) => +(t !== IGN));
      const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
      allClose(await w.crossEntropy(X, Tg, { ignoreIndex: IGN, reduction: 'none' }).data(), nll, tol);
      allClose([await w.crossEntropy(X, Tg, { ignoreIndex: IGN, reduction: 'sum' }).item()], [dot(nll, counted)], tol);
      allClose([await w.crossEntropy(X, Tg, { ignoreIndex: IGN }).item()], [dot(nll, counted) / dot(counted, counted)], tol);
      const mc = mask.map((m, i) => m * counted[i]);
      allClose([await w.crossEntropy(X, Tg, { ignoreIndex: IGN, mask: M }).item()], [dot(nll, mc) / dot(mc, mc)], tol);
      const all = w.tensor(Int32Array.from(targets.map(() => IGN)), [rows], { backend });
      expect(await w.crossEntropy(X, all, { ignoreIndex: IGN }).item()).toBe(0);
      // No ignoreIndex: a plain mean over every row.
      const valid = w.tensor(Int32Array.from(targets.map((t) => (t === IGN ? 2 : t))), [rows], { backend });
      const plain = targets.map((t, r) => -refLogp(x.slice(r * V, (r + 1) * V), t === IGN ? 2 : t));
      allClose([await w.crossEntropy(X, valid).item()], [plain.reduce((a, b) => a + b, 0) / rows], tol);
    });

    it('sequenceLogprobs: value and gradient against the float64 formula', async () => {
      const backend = await get();
      const B = 2, T = 5, V = 7;
      const x = uniform(rand, B * T * V, -4, 4).map(Math.fround);
      const labels = [[IGN, IGN, 3, 1, 6], [IGN, 4, 0, IGN, IGN]];
      const c = [0.75, -1.5];
      const X = w.tensor(Float64Array.from(x), [B, T, V], { backend });
      const L = w.tensor(Int32Array.from(labels.flat()), [B, T], { backend });
      const C = w.tensor(c, [B], { backend });
      const { value, grads } = valueAndGrad((xt: Tensor) => w.sum(w.mul(sequenceLogprobs(xt, L).sum, C)))(X);
      const targets = labels.flatMap((row) => [...row.slice(1), IGN]);
      const g = targets.map((_, i) => c[Math.floor(i / T)]);
      const per = targets.map((t, r) => (t === IGN ? 0 : refLogp(x.slice(r * V, (r + 1) * V), t)));
      const sums = [0, 1].map((b) => per.slice(b * T, (b + 1) * T).reduce((a, v) => a + v, 0));
      const { sum, count } = sequenceLogprobs(X, L);
      allClose(await sum.data(), sums, tolFor(backend));
      expect(Array.from(await count.data())).toEqual([3, 2]);
      allClose([await value.item()], [sums[0] * c[0] + sums[1] * c[1]], tolFor(backend));
      allClose(await (grads[0] as Tensor).data(), refGrad(x, targets, g, V, IGN), tolFor(backend));
    });

    it('targets known on the host are range-checked with the op and index named', async () => {
      const backend = await get();
      const X = w.zeros([2, 3, 4], { backend });
      const bad = w.tensor(Int32Array.from([0, 1, 2, 3, 4, 0]), [2, 3], { backend });
      expect(() => w.tokenLogprobs(X, bad)).toThrow('token_logprobs: target 4 at position 4 is out of range for a vocabulary of 4 (expected 0 ≤ target < 4)');
      const ignoredOk = w.tensor(Int32Array.from([0, -100, 2, 3, -100, 0]), [2, 3], { backend });
      expect(Array.from(await w.tokenLogprobs(X, ignoredOk, { ignoreIndex: -100 }).data()).map((v) => +v.toFixed(6)))
        .toEqual([-1.386294, 0, -1.386294, -1.386294, 0, -1.386294]); // log(1/4) on a row of zeros
      expect(() => w.tokenLogprobs(X, w.tensor(Int32Array.from([0, 1]), [2], { backend }))).toThrow(/token_logprobs: targets must be i32 of shape \[2, 3\]/);
      expect(() => sequenceLogprobs(X, w.tensor(Int32Array.from([0, 1, 2, 3, 9, -100]), [2, 3], { backend })))
        .toThrow('sequenceLogprobs: target 9 at position 3 is out of range for a vocabulary of 4 (expected 0 ≤ target < 4 or target = ignoreIndex -100)');
    });
  });
}

describe('token_logprobs memory (cpu)', () => {
  /** Bytes above the inputs at the peak of forward + backward of Σ loss(x) on a fresh cpu backend. */
  function extraPeak(N: number, V: number, loss: (x: Tensor, t: Tensor) => Tensor): number {
    const backend = createCpuBackend();
    const rand = rng(5);
    const X = w.tensor(Float32Array.from(uniform(rand, N * V)), [N, V], { backend });
    const Tg = w.tensor(Int32Array.from(ints(rand, N, 0, V - 1)), [N], { backend });
    const before = backend.memoryStats().liveBytes;
    tidy(() => { valueAndGrad((x: Tensor) => w.sum(loss(x, Tg)))(X); });
    return backend.memoryStats().peakLiveBytes - before;
  }

  it('the backward holds one [N, V] gradient buffer, where logsumexp − gather held several', () => {
    const N = 64, V = 1000, NV = N * V * 4;
    const fused = extraPeak(N, V, (x, t) => w.neg(w.tokenLogprobs(x, t)));
    const composed = extraPeak(N, V, (x, t) => w.sub(w.logsumexp(x, -1), w.reshape(w.gatherLast(x, w.unsqueeze(t, -1)), [N])));
    const ce = extraPeak(N, V, (x, t) => w.crossEntropy(x, t, { reduction: 'none' }));
    expect(fused).toBeGreaterThanOrEqual(NV);
    expect(fused).toBeLessThan(1.1 * NV);
    expect(ce).toBeLessThan(1.1 * NV);
    expect(composed).toBeGreaterThan(2 * NV); // 5·NV when written (softmax·g terms, scatter, their sum)
  });
});
