// What a benchmark workload is: a named, sized piece of work with its FLOP and byte counts, that
// can be built on any backend, repeated (timed by bench/timing.ts) and checked against the cpu
// backend in float64 at a small size. One file per workload kind in bench/workloads/; the suites
// that list them are in bench/suites.ts.
import type { Backend } from '../backends/backend.ts';
import { tidy } from '../engine/memory.ts';
import type { Tensor } from '../engine/tensor.ts';
import type { BenchDType, SuiteName } from './schema.ts';
import type { Measurement, Step, TimingPlan } from './timing.ts';

export interface Instance {
  /** One repetition. Synchronous steps only record GPU work, so GPU timers can bracket them. */
  step: Step;
  /** Run once on freshly built inputs and read back what the correctness check compares. */
  outputs(): Promise<ArrayLike<number>[]>;
  /** Workload-specific numbers for the row (tokens/s, peak bytes), after timing. */
  metrics?(m: Measurement): Record<string, number>;
  dispose(): void;
}

export interface Workload {
  /** Identity without dtype, shared with bench/reference/torch_bench.py: "matmul_4096_nn". */
  id: string;
  suite: SuiteName;
  op: string;
  dtype: BenchDType;
  shape: Record<string, number | string>;
  flops: number;
  bytes: number;
  /** Which wgrad code runs (ops, kernels, fused or not). */
  impl: string;
  /** Steps that read values back (model steps) are timed by the wall clock: a GPU span would include host gaps. */
  wallClock?: boolean;
  /** Overrides of the suite's timing plan (a model step needs fewer samples than a kernel). */
  timing?: Partial<TimingPlan>;
  /** max |got − ref| / max |ref| allowed against the cpu float64 backend. */
  tolerance: number;
  build(backend: Backend): Instance | Promise<Instance>;
  /** The same workload at a size the cpu float64 reference runs in well under a second. */
  small(): Workload;
  note?: string;
}

/** Reproducible inputs in [-1, 1) (xorshift32), identical on every backend. */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = (x / 2147483648 - 1) * scale;
  }
  return out;
}

/** Reproducible integers in [0, high). */
export function randomInts(n: number, seed: number, high: number): Int32Array {
  const u = randomValues(n, seed);
  return Int32Array.from(u, (v) => Math.min(high - 1, Math.floor(((v + 1) / 2) * high)));
}

/** "64M", "256K", "1000": element counts in ids. */
export function countLabel(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n >> 20}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n >> 10}K`;
  return `${n}`;
}

/** max |got − ref| over all outputs, divided by the largest |ref| (so scale-free, and 0/0-safe). */
export function relativeError(got: ArrayLike<number>[], ref: ArrayLike<number>[]): number {
  if (got.length !== ref.length) throw new Error(`check: ${got.length} outputs against ${ref.length} reference outputs`);
  let worst = 0;
  for (let o = 0; o < got.length; o++) {
    const g = got[o], r = ref[o];
    if (g.length !== r.length) throw new Error(`check: output ${o} has ${g.length} values, the reference ${r.length}`);
    let scale = 0, diff = 0;
    for (let i = 0; i < r.length; i++) {
      scale = Math.max(scale, Math.abs(r[i]));
      const d = Math.abs(g[i] - r[i]);
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    }
    worst = Math.max(worst, diff / Math.max(scale, 1e-30));
  }
  return worst;
}

/**
 * step and outputs of a workload whose run() returns tensors (e.g. y and its input gradients): step
 * runs it and frees the results, outputs reads them back for the correctness check.
 */
export function tensorRun(run: () => Tensor[]): Pick<Instance, 'step' | 'outputs'> {
  return {
    step: () => { for (const t of tidy(run)) t.dispose(); },
    outputs: async () => {
      const ts = tidy(run);
      const out = await Promise.all(ts.map((t) => t.data()));
      for (const t of ts) t.dispose();
      return out;
    },
  };
}
