// The host linear algebra behind conditioned refusal directions: a dense solve checked by its
// residual in float64, the second moment against a direct sum, and the ridge direction's two
// limits (λ → ∞: the raw direction; small λ: away from the activity's dominant direction).
import { describe, expect, it } from 'vitest';
import { Generator } from '../../engine/random.ts';
import { cosine, ridgeDirection, secondMoment, solveLinear } from '../../llm/editing/linalg.ts';

const randn = (g: Generator, n: number) => Float64Array.from({ length: n }, () => g.normal());

describe('editing linear algebra', () => {
  it('solveLinear solves a random system (residual ~1e-12) and needs pivoting on a zero diagonal', () => {
    const g = new Generator(1), n = 12;
    const A = randn(g, n * n), b = randn(g, n);
    const x = solveLinear(A, b);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[i * n + k] * x[k];
      expect(Math.abs(s - b[i])).toBeLessThan(1e-10);
    }
    expect([...solveLinear(Float64Array.from([0, 1, 1, 0]), [2, 3])]).toEqual([3, 2]);
    expect(() => solveLinear(Float64Array.from([1, 2, 2, 4]), [1, 1])).toThrow(/singular/);
  });

  it('secondMoment is XᵀX / n', () => {
    const g = new Generator(2), n = 7, d = 5;
    const X = randn(g, n * d);
    const M = secondMoment(X, n, d);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += X[i * d + a] * X[i * d + b];
      expect(M[a * d + b]).toBeCloseTo(s / n, 12);
    }
  });

  it('ridgeDirection: (M + λ·tr(M)/d·I) r = d; large λ keeps d, small λ leaves the busy direction', () => {
    const d = 4;
    // Activity only along e0, strongly.
    const X = Float64Array.from([10, 0, 0, 0, -10, 0, 0, 0]);
    const M = secondMoment(X, 2, d);
    const v = [1, 1, 0, 0];
    const r = ridgeDirection(v, M, 0.01);
    const ridge = 0.01 * 100 / d;
    expect((M[0] + ridge) * r[0]).toBeCloseTo(1, 12);
    expect(ridge * r[1]).toBeCloseTo(1, 12);
    expect(Math.abs(r[0]) / Math.abs(r[1])).toBeLessThan(0.01); // almost only e1
    expect(cosine(ridgeDirection(v, M, 1e6), v)).toBeGreaterThan(0.9999);
    expect(() => ridgeDirection(v, M, 0)).toThrow(/positive/);
  });
});
