// Seeded Fisher–Yates on engine/random's Generator, so a permutation is reproducible from the
// generator's state alone (what a resumed iterator restores).
import type { Generator } from '../../engine/random.ts';

/** A uniformly random permutation of 0..n-1, drawing n-1 numbers from `rng`. */
export function permutation(n: number, rng: Generator): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    // 32 random bits scaled to [0, i]: the bias is at most n / 2^32, far below what matters here.
    const j = Math.floor(rng.uniform() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
