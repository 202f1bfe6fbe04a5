// The blocked cpu matmul against a naive triple loop written here, over every transpose
// combination, batch broadcasting and sizes that leave partial 4×4 tiles.
import { describe, expect, it } from 'vitest';
import { cpuMatmul } from '../../backends/cpu/matmul.ts';

function naive(a: Float64Array, b: Float64Array, batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean, aStride: number, bStride: number): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let l = 0; l < k; l++) {
      const av = a[t * aStride + (transA ? l * m + i : i * k + l)];
      const bv = b[t * bStride + (transB ? j * k + l : l * n + j)];
      s += av * bv;
    }
    out[(t * m + i) * n + j] = s;
  }
  return out;
}

describe('cpu matmul (4×4 blocked)', () => {
  const rand = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 3);
  for (const [m, n, k] of [[1, 1, 1], [3, 5, 7], [4, 4, 4], [9, 6, 17], [17, 13, 1]]) {
    for (const transA of [false, true]) for (const transB of [false, true]) {
      it(`[${m}×${k}]·[${k}×${n}] transA=${transA} transB=${transB}, batch 2 with A broadcast`, () => {
        const a = rand(m * k, 1), b = rand(2 * k * n, 2);
        const p = { batch: 2, m, n, k, transA, transB, aBatchStride: 0, bBatchStride: k * n };
        const out = new Float64Array(2 * m * n);
        cpuMatmul(a, b, out, p);
        const ref = naive(a, b, 2, m, n, k, transA, transB, 0, k * n);
        for (let i = 0; i < out.length; i++) expect(out[i]).toBeCloseTo(ref[i], 12);
      });
    }
  }
});
