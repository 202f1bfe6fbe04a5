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

/** Solves A x = b for a dense n × n A (row-major) by Gaussian elimination with partial pivoting. */
export function solveLinear(A: Float64Array, b: ArrayLike<number>): Float64Array {
  const n = b.length;
  if (A.length !== n * n) throw new Error(`solve: A has ${A.length} entries for ${n} unknowns`);
  const M = Float64Array.from(A), x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    if (!(Math.abs(M[p * n + c]) > 0)) throw new Error('solve: the matrix is singular');
    if (p !== c) {
      for (let k = 0; k < n; k++) [M[c * n + k], M[p * n + k]] = [M[p * n + k], M[c * n + k]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      if (f === 0) continue;
      for (let k = c; k < n; k++) M[r * n + k] -= f * M[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    let s = x[c];
    for (let k = c + 1; k < n; k++) s -= M[c * n + k] * x[k];
    x[c] = s / M[c * n + c];
  }
  return x;
}

/** XᵀX / n of the rows of X [n, d] (uncentred: a projection removes the mean's part too). */
export function secondMoment(X: Float64Array, n: number, d: number): Float64Array {
  const M = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const xa = X[i * d + a];
      if (xa !== 0) for (let b = 0; b < d; b++) M[a * d + b] += xa * X[i * d + b];
    }
  }
  for (let k = 0; k < M.length; k++) M[k] /= Math.max(1, n);
  return M;
}

/**
 * (M + λ·tr(M)/d·I)⁻¹ r: the direction that moves r's projection most per unit of the activity M
 * describes (the rows a projection along it would disturb). λ → ∞ gives r; small λ steers away from
 * M's large eigendirections, a soft form of projecting its top principal components out of r.
 */
export function ridgeDirection(r: ArrayLike<number>, M: Float64Array, lambda: number): Float64Array {
  const d = r.length;
  if (M.length !== d * d) throw new Error(`ridge direction: M has ${M.length} entries for a ${d}-vector`);
  if (!(lambda > 0)) throw new Error(`ridge direction: λ must be positive (got ${lambda})`);
  let tr = 0;
  for (let a = 0; a < d; a++) tr += M[a * d + a];
  const A = Float64Array.from(M);
  const ridge = lambda * (tr > 0 ? tr / d : 1);
  for (let a = 0; a < d; a++) A[a * d + a] += ridge;
  return solveLinear(A, r);
}
