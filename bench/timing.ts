// Timing of one workload: warm up, size the repetitions per sample so a sample lasts ≥ targetMs,
// then take `samples` samples. On WebGPU with 'timestamp-query' each sample is a GPU timer span
// around the recorded dispatches (backends/webgpu/timer.ts); otherwise, or when a span yields no
// timestamps, the wall clock from before recording to after `sync()` (queue.onSubmittedWorkDone()).
import type { Backend } from '../backends/backend.ts';
import type { GpuTimer } from '../backends/webgpu/timer.ts';
import type { TimingMethod, TimingStats } from './schema.ts';

export interface TimingPlan {
  warmup: number;
  samples: number;
  /** Milliseconds one sample should last at least (repetitions are added to reach it). */
  targetMs: number;
  /** Cap on repetitions per sample. */
  maxInner: number;
}

export const QUICK_TIMING: TimingPlan = { warmup: 2, samples: 5, targetMs: 5, maxInner: 20 };
export const FULL_TIMING: TimingPlan = { warmup: 3, samples: 15, targetMs: 20, maxInner: 200 };

export interface Measurement {
  method: TimingMethod;
  warmup: number;
  inner: number;
  samplesMs: number[];
  stats: TimingStats;
}

/** One repetition of a workload: records (WebGPU) or computes (cpu) its work; may await reads. */
export type Step = () => void | Promise<void>;

interface TimerHost { createTimer(maxPasses?: number): GpuTimer | null }
const hasTimer = (b: Backend): b is Backend & TimerHost => typeof (b as Partial<TimerHost>).createTimer === 'function';

export async function measure(backend: Backend, step: Step, plan: TimingPlan, opts: { gpuTimer?: boolean } = {}): Promise<Measurement> {
  for (let i = 0; i < plan.warmup; i++) await step();
  await backend.sync();
  const wall = async (inner: number) => {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) await step();
    await backend.sync();
    return performance.now() - t0;
  };
  // Wall clock over one repetition includes submit latency, so it overestimates: fine for sizing.
  const one = await wall(1);
  const inner = Math.max(1, Math.min(plan.maxInner, Math.ceil(plan.targetMs / Math.max(one, 1e-3))));
  let samplesMs: number[] = [];
  let method: TimingMethod = 'wall-clock';
  const timer = opts.gpuTimer !== false && hasTimer(backend) ? backend.createTimer() : null;
  if (timer) {
    try {
      const spans: (number | null)[] = [];
      for (let s = 0; s < plan.samples; s++) {
        timer.begin();
        for (let i = 0; i < inner; i++) await step();
        timer.end();
        // Read per sample: bounds the queued work and the pool to one sample, and gives every
        // sample the whole query set (a workload that ends its compute pass often needs many slots).
        spans.push(...(await timer.read()));
      }
      if (spans.every((x): x is number => x !== null)) {
        samplesMs = spans.map((x) => x / inner);
        method = 'gpu-timestamp';
      }
    } finally {
      timer.destroy();
    }
  }
  if (method === 'wall-clock') for (let s = 0; s < plan.samples; s++) samplesMs.push((await wall(inner)) / inner);
  return { method, warmup: plan.warmup, inner, samplesMs, stats: timingStats(samplesMs) };
}

export function timingStats(samples: number[]): TimingStats {
  if (samples.length === 0) throw new Error('timingStats: no samples');
  const s = [...samples].sort((a, b) => a - b);
  const h = s.length >> 1;
  const medianMs = s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
  const meanMs = s.reduce((a, b) => a + b, 0) / s.length;
  const stdevMs = Math.sqrt(s.reduce((a, b) => a + (b - meanMs) ** 2, 0) / Math.max(1, s.length - 1));
  return { medianMs, minMs: s[0], maxMs: s[s.length - 1], meanMs, stdevMs };
}
