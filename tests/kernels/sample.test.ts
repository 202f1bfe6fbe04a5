// Device sampling (kernels/sample.ts, backends/cpu/sample.ts): hand-worked rows, the kept sets of
// top-k and top-p against a direct float64 evaluation of HF's warpers, the empirical distribution
// of a sweep of uniforms, and the same token from cpu, cpu-f64 and WebGPU for the same uniforms.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import type { SampleParams } from '../../backends/routines/index.ts';
import { testBackends } from '../setup/backends.ts';

/** HF: softmax(x / T), keep the top k, then the smallest top set with mass ≥ p (sorted), renormalised. */
function keptProbs(row: number[], p: SampleParams): number[] {
  const m = Math.max(...row);
  const q = row.map((x) => Math.exp((x - m) / p.temperature));
  const order = q.map((_, i) => i).sort((a, b) => q[b] - q[a]);
  let keep = p.topK > 0 ? order.slice(0, p.topK) : order;
  if (p.topP < 1) {
    const z = keep.reduce((s, i) => s + q[i], 0);
    let acc = 0, n = 0;
    while (n < keep.length) { acc += q[keep[n++]]; if (acc >= p.topP * z) break; }
    keep = keep.slice(0, n);
  }
  const z = keep.reduce((s, i) => s + q[i], 0);
  return q.map((v, i) => (keep.includes(i) ? v / z : 0));
}

// Well-separated logits (no ties, no near-ties at the thresholds), V = 37 (not a multiple of 4 or 32).
const V = 37;
const row = (r: number) => Array.from({ length: V }, (_, c) => Math.sin(1.3 * c + 0.7 * r) * 3 + 0.05 * c);

for (const { name, get } of testBackends()) {
  describe(`sampleTokens on ${name}`, () => {
    it('greedy is the first maximum; a uniform picks by the index-order CDF of the kept tokens', async () => {
      const backend = await get();
      const x = w.tensor([1, 3, 3, 0, /* row 2 */ 0, 0, Math.log(2), 0], [2, 4], { backend });
      expect(Array.from(await w.sampleTokens(x, w.tensor([0.5, 0.5], [2], { backend }), { temperature: 0, topK: 0, topP: 1 }).data())).toEqual([1, 2]);
      // Row 2 at T = 1: q = [1, 1, 2, 1] / 5 → CDF 0.2 0.4 0.8 1.
      const u = [0.1, 0.3, 0.5, 0.79, 0.81, 0.99];
      const xs = w.tensor(u.flatMap(() => [0, 0, Math.log(2), 0]), [u.length, 4], { backend });
      expect(Array.from(await w.sampleTokens(xs, w.tensor(u, [u.length], { backend }), { temperature: 1, topK: 0, topP: 1 }).data())).toEqual([0, 1, 2, 2, 3, 3]);
      // top-k 1 keeps only the maximum; top-p 0.3 keeps only token 2 (mass 0.4 ≥ 0.3).
      for (const p of [{ temperature: 1, topK: 1, topP: 1 }, { temperature: 1, topK: 0, topP: 0.3 }]) {
        expect(Array.from(await w.sampleTokens(xs, w.tensor(u, [u.length], { backend }), p).data())).toEqual(u.map(() => 2));
      }
    });

    const settings: SampleParams[] = [
      { temperature: 1, topK: 0, topP: 1 }, { temperature: 0.7, topK: 5, topP: 1 }, { temperature: 1.3, topK: 0, topP: 0.8 },
      { temperature: 0.9, topK: 8, topP: 0.6 },
    ];
    for (const p of settings) {
      it(`T ${p.temperature}, top-k ${p.topK}, top-p ${p.topP}: the tokens of a uniform sweep follow HF's kept distribution`, async () => {
        const backend = await get();
        const n = 200; // u = (i + 0.5) / n: the empirical CDF is within 1/n of the true one
        const r0 = row(3);
        const x = w.tensor(Array.from({ length: n }, () => r0).flat(), [n, V], { backend });
        const u = Array.from({ length: n }, (_, i) => (i + 0.5) / n);
        const got = Array.from(await w.sampleTokens(x, w.tensor(u, [n], { backend }), p).data());
        const want = keptProbs(r0, p);
        const freq = new Array(V).fill(0);
        for (const t of got) freq[t] += 1 / n;
        for (let c = 0; c < V; c++) {
          if (want[c] === 0) expect(freq[c], `token ${c} is outside the kept set`).toBe(0);
          else expect(Math.abs(freq[c] - want[c]), `token ${c}: ${freq[c]} vs ${want[c]}`).toBeLessThanOrEqual(1 / n + 1e-9);
        }
        // The same tokens from the float64 cpu reference, row by row.
        if (name !== 'cpu-f64') {
          const { createCpuBackend } = await import('../../backends/cpu/index.ts');
          const ref = createCpuBackend({ precision: 'f64' });
          const refTok = Array.from(await w.sampleTokens(w.tensor(Array.from({ length: n }, () => r0).flat(), [n, V], { backend: ref }), w.tensor(u, [n], { backend: ref }), p).data());
          const differ = got.filter((t, i) => t !== refTok[i]).length;
          expect(differ, 'tokens that differ from cpu-f64').toBe(0);
        }
      });
    }

    it('many rows, a long row (V 3001), one dispatch', async () => {
      const backend = await get();
      const B = 5, W = 3001;
      const xs = Array.from({ length: B * W }, (_, i) => Math.cos(i * 0.37) * 4);
      const u = [0.05, 0.33, 0.5, 0.77, 0.97];
      const p = { temperature: 0.8, topK: 50, topP: 0.9 };
      const got = Array.from(await w.sampleTokens(w.tensor(xs, [B, W], { backend }), w.tensor(u, [B], { backend }), p).data());
      const { createCpuBackend } = await import('../../backends/cpu/index.ts');
      const ref = createCpuBackend({ precision: 'f64' });
      const want = Array.from(await w.sampleTokens(w.tensor(xs, [B, W], { backend: ref }), w.tensor(u, [B], { backend: ref }), p).data());
      expect(got).toEqual(want);
      for (let b = 0; b < B; b++) expect(keptProbs(xs.slice(b * W, (b + 1) * W), p)[got[b]]).toBeGreaterThan(0);
    });
  });
}
