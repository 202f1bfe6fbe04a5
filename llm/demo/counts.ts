// Exact counts behind the demo's percentages, with the noise they carry: a share k/n with its 95%
// Wilson score interval, and the paired change between two runs over the same questions (how many
// answers went right → wrong and wrong → right), which is what "accuracy moved by a point" means on
// 200 questions (a point is 2 answers).

export interface Share { k: number; n: number; rate: number; low: number; high: number }

/** k of n with the 95% Wilson score interval (z = 1.96). */
export function share(k: number, n: number): Share {
  if (!n) return { k, n, rate: 0, low: 0, high: 1 };
  const z = 1.96, p = k / n, z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { k, n, rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface PairedChange { n: number; before: number; after: number; lost: number; gained: number }

/** Right/wrong per question before and after an edit (same questions, same order). */
export function pairedChange(before: readonly boolean[], after: readonly boolean[]): PairedChange {
  if (before.length !== after.length) throw new Error(`paired change: ${before.length} answers before, ${after.length} after`);
  let lost = 0, gained = 0;
  before.forEach((b, i) => { if (b && !after[i]) lost++; else if (!b && after[i]) gained++; });
  const count = (xs: readonly boolean[]) => xs.filter(Boolean).length;
  return { n: before.length, before: count(before), after: count(after), lost, gained };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** "137/200 = 68.5% [61.8, 74.5]" */
export function formatShare(s: Share): string {
  return `${s.k}/${s.n} = ${pct(s.rate)} [${(100 * s.low).toFixed(1)}, ${(100 * s.high).toFixed(1)}]`;
}
