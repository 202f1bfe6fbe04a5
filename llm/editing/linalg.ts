// Host-side float64 vector algebra for directions: means, cosines, and the first principal component
// by power iteration on XᵀX (X [n, d] centred, never forming the d × d covariance).
import { Generator } from '../../engine/random.ts';

/** Mean of the rows of X [n, d]. */
export function rowMean(X: Float64Array, n: number, d: number): Float64Array {
  const m = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j] += X[i * d + j];
  for (let j = 0; j < d; j++) m[j] /= n;
  return m;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(a, b) / (norm(a) * norm(b));
}

export function unit(a: ArrayLike<number>): Float64Array {
  const n = norm(a);
  if (!(n > 0)) throw new Error('direction: the vector is zero');
  return Float64Array.from(a, (v) => v / n);
}

/**
 * The unit first principal component of the rows of X [n, d] after centring (sklearn's PCA(1)),
 * by power iteration v ← Xcᵀ(Xc v)/|…| from a seeded random start until v moves less than `tol`.
 */
export function firstPrincipalComponent(X: Float64Array, n: number, d: number, o: { seed?: number; tol?: number; maxIters?: number } = {}): Float64Array {
  const mean = rowMean(X, n, d);
  const Xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) Xc[i * d + j] = X[i * d + j] - mean[j];
  const g = new Generator(o.seed ?? 0);
  let v = unit(Float64Array.from({ length: d }, () => g.uniform() - 0.5));
  const tol = o.tol ?? 1e-10, maxIters = o.maxIters ?? 2000;
  const proj = new Float64Array(n);
  for (let it = 0; it < maxIters; it++) {
    for (let i = 0; i < n; i++) { let s = 0; for (let j = 0; j < d; j++) s += Xc[i * d + j] * v[j]; proj[i] = s; }
    const w = new Float64Array(d);
    for (let i = 0; i < n; i++) { const p = proj[i]; if (p !== 0) for (let j = 0; j < d; j++) w[j] += Xc[i * d + j] * p; }
    if (!(norm(w) > 0)) throw new Error('PCA: the rows are all equal (no variance to find a direction in)');
    const next = unit(w);
    const moved = Math.min(norm(next.map((x, j) => x - v[j])), norm(next.map((x, j) => x + v[j])));
    v = next;
    if (moved < tol) break;
  }
  return v;
}
