// lmHeadLogprobs (lm_head matmul + per-token log-probs, chunked over rows) against a float64 formula
// written out here, float64 finite differences, and the peak memory of the unchunked composition.
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { valueAndGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import * as w from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Backend } from '../../backends/backend.ts';
import { ints, rng, uniform } from '../backends/compare.ts';
import { checkOp, type OpSpec } from '../core/ops/check.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

const IGN = -100;

/**
 * logp[r], the entropy of row r's softmax, and d/dh, d/dW of Σ_r g_r·logp_r for logits = s·h·Wᵀ,
 * all in float64 (s = 1 unless given).
 */
function reference(h: number[], W: number[], targets: number[], g: number[], N: number, D: number, V: number, s = 1) {
  const logp = new Array(N).fill(0), entropy = new Array(N).fill(0), dh = new Array(N * D).fill(0), dW = new Array(V * D).fill(0);
  for (let r = 0; r < N; r++) {
    const t = targets[r];
    const z = Array.from({ length: V }, (_, v) => { let a = 0; for (let d = 0; d < D; d++) a += h[r * D + d] * W[v * D + d]; return s * a; });
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((a, x) => a + Math.exp(x - m), 0));
    entropy[r] = -z.reduce((a, x) => a + Math.exp(x - lse) * (x - lse), 0);
    if (t === IGN) continue;
    logp[r] = z[t] - lse;
    for (let v = 0; v < V; v++) {
      // d logits / d(h·Wᵀ) = s.
      const dz = s * g[r] * ((v === t ? 1 : 0) - Math.exp(z[v] - lse));
      for (let d = 0; d < D; d++) { dh[r * D + d] += dz * W[v * D + d]; dW[v * D + d] += dz * h[r * D + d]; }
    }
  }
  return { logp, entropy, dh, dW };
}

/** Random f32-exact hidden rows, weights, targets (some ignored) and row weights g, and their tensors. */
function problem(backend: Backend, rand: () => number, lead: number[], D: number, V: number, range: number, ignored: number[]) {
  const N = lead.reduce((a, b) => a * b, 1);
  const h = uniform(rand, N * D, -range, range).map(Math.fround), W = uniform(rand, V * D, -range, range).map(Math.fround);
  const targets = ints(rand, N, 0, V - 1);
  for (const r of ignored) targets[r] = IGN;
  const g = uniform(rand, N, -2, 2).map(Math.fround);
  return {
    h, W, targets, g, N,
    H: w.tensor(Float64Array.from(h), [...lead, D], { backend }), Wt: w.tensor(Float64Array.from(W), [V, D], { backend }),
    Tg: w.tensor(Int32Array.from(targets), lead, { backend }), G: w.tensor(Float64Array.from(g), lead, { backend }),
  };
}

for (const { name, get } of testBackends()) {
  describe(`lm_head_logprobs on ${name}`, () => {
    const rand = rng(3);

    it('values and both gradients match the float64 formula for every chunking', async () => {
      const backend = await get();
      const tol = backend.precision === 'f64' ? { atol: 1e-12, rtol: 1e-12 } : { atol: 3e-5, rtol: 3e-5 };
      const lead = [2, 5], D = 6, V = 17;
      const { h, W, targets, g, N, H, Wt, Tg, G } = problem(backend, rand, lead, D, V, 1, [3, 7]);
      const want = reference(h, W, targets, g, N, D, V);
      for (const chunkRows of [undefined, 1, 3, 4, 10, 64]) {
        const label = `chunkRows ${chunkRows} on ${backend.description}`;
        const opts = { ignoreIndex: IGN, chunkRows };
        const { grads } = valueAndGrad((hh: Tensor, ww: Tensor) => w.sum(w.mul(w.lmHeadLogprobs(hh, ww, Tg, opts), G)))(H, Wt);
        const logp = w.lmHeadLogprobs(H, Wt, Tg, opts);
        expect(logp.shape).toEqual(lead);
        allClose(await logp.data(), want.logp, { ...tol, label: `${label} logp` });
        allClose(await (grads[0] as Tensor).data(), want.dh, { ...tol, label: `${label} d hidden` });
        allClose(await (grads[1] as Tensor).data(), want.dW, { ...tol, label: `${label} d weight` });
      }
    });

    it('a logit scale (GRPO\'s 1 / temperature) and the per-row entropy match the float64 formula', async () => {
      const backend = await get();
      const tol = backend.precision === 'f64' ? { atol: 1e-12, rtol: 1e-12 } : { atol: 3e-5, rtol: 3e-5 };
      const lead = [3, 3], D = 5, V = 13;
      const { h, W, targets, g, N, H, Wt, Tg, G } = problem(backend, rand, lead, D, V, 1.5, [4]);
      for (const scale of [1, 1 / 0.7, 0.25]) {
        const want = reference(h, W, targets, g, N, D, V, scale);
        for (const chunkRows of [undefined, 2, 4]) {
          const label = `scale ${scale} chunkRows ${chunkRows} on ${backend.description}`;
          const opts = { ignoreIndex: IGN, chunkRows, scale };
          const { grads } = valueAndGrad((hh: Tensor, ww: Tensor) => w.sum(w.mul(w.lmHeadLogprobs(hh, ww, Tg, opts), G)))(H, Wt);
          const r = w.lmHeadTokenStats(H, Wt, Tg, opts, true);
          expect(r.entropy.shape).toEqual(lead);
          expect(r.entropy.requiresGrad).toBe(false);
          allClose(await r.logp.data(), want.logp, { ...tol, label: `${label} logp` });
          allClose(await r.entropy.data(), want.entropy, { ...tol, label: `${label} entropy` });
          allClose(await (grads[0] as Tensor).data(), want.dh, { ...tol, label: `${label} d hidden` });
          allClose(await (grads[1] as Tensor).data(), want.dW, { ...tol, label: `${label} d weight` });
        }
      }
      expect(w.lmHeadTokenStats(H, Wt, Tg, { ignoreIndex: IGN }).entropy).toBeNull();
      expect(() => w.lmHeadLogprobs(H, Wt, Tg, { ignoreIndex: IGN, scale: NaN })).toThrow(/scale NaN must be a finite number/);
    });

    it('finite-difference gradient check (hidden and weight)', async () => {
      const backend = await get();
      const spec: OpSpec = {
        name: 'lm_head_logprobs [5,4]·[9,4]ᵀ chunk 2',
        inputs: [{ shape: [5, 4] }, { shape: [9, 4] }, { shape: [5], kind: 'int', lo: -1, hi: 9 }],
        fn: ([h, W, t]) => w.lmHeadLogprobs(h, W, t, { ignoreIndex: -1, chunkRows: 2 }),
      };
      await checkOp(spec, backend, 99);
      await checkOp({ ...spec, name: 'lm_head_logprobs scale 1/0.6', fn: ([h, W, t]) => w.lmHeadLogprobs(h, W, t, { ignoreIndex: -1, chunkRows: 2, scale: 1 / 0.6 }) }, backend, 98);
    });

    it('only the inputs that require grad get one; bad inputs are named', async () => {
      const backend = await get();
      const H = w.tensor(uniform(rand, 12), [3, 4], { backend }), Wt = w.tensor(uniform(rand, 20), [5, 4], { backend });
      const Tg = w.tensor(Int32Array.from([0, 4, 2]), [3], { backend });
      const frozen = Wt; // a frozen lm_head (LoRA): only d hidden flows
      const { grads } = valueAndGrad((hh: Tensor) => w.sum(w.lmHeadLogprobs(hh, frozen, Tg, { chunkRows: 2 })))(H);
      expect((grads[0] as Tensor).shape).toEqual([3, 4]);
      expect(() => w.lmHeadLogprobs(H, w.tensor(uniform(rand, 15), [5, 3], { backend }), Tg)).toThrow(/lm_head_logprobs: expected hidden \[\.\.\., D\] and weight \[V, D\]/);
      expect(() => w.lmHeadLogprobs(H, Wt, w.tensor(Int32Array.from([0, 5, 1]), [3], { backend })))
        .toThrow('lm_head_logprobs: target 5 at position 1 is out of range for a vocabulary of 5 (expected 0 ≤ target < 5)');
      expect(() => w.lmHeadLogprobs(H, Wt, Tg, { chunkRows: 0 })).toThrow(/chunkRows 0 must be a positive integer/);
    });
  });
}

describe('lm_head_logprobs memory (cpu)', () => {
  it('peak [·, V] memory follows the chunk, not the number of rows', () => {
    const N = 256, D = 8, V = 2000, C = 8, NV = N * V * 4;
    const peak = (f: (h: Tensor, W: Tensor, t: Tensor) => Tensor) => {
      const backend = createCpuBackend();
      const rand = rng(1);
      const H = w.tensor(Float32Array.from(uniform(rand, N * D)), [N, D], { backend });
      const Wt = w.tensor(Float32Array.from(uniform(rand, V * D)), [V, D], { backend });
      const Tg = w.tensor(Int32Array.from(ints(rand, N, 0, V - 1)), [N], { backend });
      const before = backend.memoryStats().liveBytes;
      tidy(() => { valueAndGrad((h: Tensor, W: Tensor) => w.sum(f(h, W, Tg)))(H, Wt); });
      return backend.memoryStats().peakLiveBytes - before;
    };
    const chunked = peak((h, W, t) => w.lmHeadLogprobs(h, W, t, { chunkRows: C }));
    const whole = peak((h, W, t) => w.tokenLogprobs(w.matmul(h, W, { transB: true }), t));
    // Unchunked: logits and dlogits, [N, V] each. Chunked: a few [C, V] buffers plus the [V, D] dW sums.
    expect(whole).toBeGreaterThan(2 * NV);
    expect(chunked).toBeLessThan(0.25 * NV); // ≈ (2·C·V + 3·V·D)·4 bytes
  });
});
