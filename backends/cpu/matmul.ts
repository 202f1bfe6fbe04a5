// C[b] = op(A[b]) · op(B[b]) on the cpu: both operands are packed so that each row of op(A) and
// each column of op(B) is contiguous along k, then a 4×4 register-blocked kernel computes 16 dot
// products per sweep over k (8 loads per 16 multiply-adds instead of 2 per 1). V8 does not
// vectorise, so this blocking is what buys speed: ~4× the plain dot-product loop. Every dot product
// is a float64 sum in the order l = 0..k-1, so results do not depend on the blocking.
import type { MatmulParams } from '../backend.ts';

type Floats = Float32Array | Float64Array;

/** op(X) of X stored [rows, k] (trans false) or [k, rows] (trans true) → packed [rows, k] float64. */
function pack(x: Floats, base: number, rows: number, k: number, trans: boolean, into: Float64Array): Float64Array {
  if (!trans) {
    for (let i = 0; i < rows * k; i++) into[i] = x[base + i];
    return into;
  }
  for (let l = 0; l < k; l++) {
    const src = base + l * rows;
    for (let i = 0; i < rows; i++) into[i * k + l] = x[src + i];
  }
  return into;
}

/**
 * `round` (matmul precision 'f16': kernels/matmul-mma.ts roundToF16) is applied to every operand
 * element before the products, as the matrix units see them; the sums stay float64.
 */
export function cpuMatmul(ad: Floats, bd: Floats, o: Floats, p: MatmulParams, round?: (x: number) => number): void {
  const { batch, m, n, k } = p;
  const ap = new Float64Array(m * k), bp = new Float64Array(n * k);
  for (let t = 0; t < batch; t++) {
    // op(A) [m, k] as stored when not transposed; op(B)ᵀ [n, k] as stored when B is transposed.
    pack(ad, t * p.aBatchStride, m, k, p.transA, ap);
    pack(bd, t * p.bBatchStride, n, k, !p.transB, bp);
    if (round) {
      for (let i = 0; i < ap.length; i++) ap[i] = round(ap[i]);
      for (let i = 0; i < bp.length; i++) bp[i] = round(bp[i]);
    }
    const ob = t * m * n;
    for (let i = 0; i < m; i += 4) {
      const ri = Math.min(4, m - i);
      const a0 = i * k, a1 = (i + Math.min(1, ri - 1)) * k, a2 = (i + Math.min(2, ri - 1)) * k, a3 = (i + Math.min(3, ri - 1)) * k;
      for (let j = 0; j < n; j += 4) {
        const rj = Math.min(4, n - j);
        // Edge tiles repeat the last row/column (computed twice, written once).
        const b0 = j * k, b1 = (j + Math.min(1, rj - 1)) * k, b2 = (j + Math.min(2, rj - 1)) * k, b3 = (j + Math.min(3, rj - 1)) * k;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let l = 0; l < k; l++) {
          const x0 = ap[a0 + l], x1 = ap[a1 + l], x2 = ap[a2 + l], x3 = ap[a3 + l];
          const y0 = bp[b0 + l], y1 = bp[b1 + l], y2 = bp[b2 + l], y3 = bp[b3 + l];
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
          c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
          c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
        }
        const c = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let u = 0; u < ri; u++) for (let v = 0; v < rj; v++) o[ob + (i + u) * n + j + v] = c[u * 4 + v];
      }
    }
  }
}
