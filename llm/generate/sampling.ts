// Next-token sampling from one row of logits on the host: greedy, temperature, top-k, top-p.
import type { Generator } from '../../engine/random.ts';

export interface SamplingOpts {
  /** 0 (default) is greedy argmax. */
  temperature?: number;
  /** Keep the k most likely tokens (0: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1: all). */
  topP?: number;
}

export function argmaxRow(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function sampleRow(row: ArrayLike<number>, opts: SamplingOpts, rng: Generator): number {
  const temp = opts.temperature ?? 0;
  if (temp <= 0) return argmaxRow(row);
  const n = row.length;
  let order = Array.from({ length: n }, (_, i) => i);
  let mx = -Infinity;
  for (let i = 0; i < n; i++) mx = Math.max(mx, row[i]);
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) p[i] = Math.exp((row[i] - mx) / temp);
  const topK = opts.topK ?? 0, topP = opts.topP ?? 1;
  if ((topK > 0 && topK < n) || topP < 1) {
    order.sort((a, b) => p[b] - p[a] || a - b);
    if (topK > 0) order = order.slice(0, topK);
    if (topP < 1) {
      const total = order.reduce((s, i) => s + p[i], 0);
      let acc = 0, keep = 0;
      while (keep < order.length) { acc += p[order[keep++]] / total; if (acc >= topP) break; }
      order = order.slice(0, keep);
    }
  }
  const total = order.reduce((s, i) => s + p[i], 0);
  let u = rng.uniform() * total;
  for (const i of order) { u -= p[i]; if (u < 0) return i; }
  return order[order.length - 1];
}
