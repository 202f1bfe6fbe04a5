// A validation split drawn from the training rows, deterministic by seed: the same rows, seed and
// fraction always give the same split, and both parts keep the rows' original order.
import { Generator } from '../../engine/random.ts';
import { permutation } from './shuffle.ts';

export interface SplitOptions {
  /** Share of the rows held out, in [0, 1). */
  valFraction: number;
  /** Seed of the draw. Default 0. */
  seed?: number;
}

export function splitTrainVal<T>(items: readonly T[], options: SplitOptions): { train: T[]; val: T[] } {
  const f = options.valFraction;
  if (!(f >= 0 && f < 1)) throw new RangeError(`valFraction must be in [0, 1), got ${f}`);
  const n = items.length;
  // At least one row each way once a split is asked for, so neither side is silently empty.
  let k = Math.round(n * f);
  if (f > 0 && n >= 2) k = Math.min(Math.max(k, 1), n - 1);
  if (k === 0) return { train: [...items], val: [] };
  const held = new Set(permutation(n, new Generator(options.seed ?? 0)).slice(0, k));
  const train: T[] = [];
  const val: T[] = [];
  items.forEach((item, i) => (held.has(i) ? val : train).push(item));
  return { train, val };
}
