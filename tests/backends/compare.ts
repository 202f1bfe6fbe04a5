// Helpers for backend-vs-backend tests: a seeded generator and an elementwise closeness check.

/** mulberry32: small, seedable, good enough for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(rand: () => number, n: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

export function ints(rand: () => number, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + Math.floor((hi - lo + 1) * rand()));
}

export interface Tol { atol: number; rtol: number }

/** First index where got and want differ beyond atol + rtol·|want| (NaN matches NaN, ±inf must match), or null. */
export function mismatch(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol): string | null {
  if (got.length !== want.length) return `length ${got.length} != ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (g === w) continue;
      return `[${i}]: got ${g}, want ${w}`;
    }
    if (Math.abs(g - w) > tol.atol + tol.rtol * Math.abs(w)) return `[${i}]: got ${g}, want ${w} (|diff| ${Math.abs(g - w)})`;
  }
  return null;
}
