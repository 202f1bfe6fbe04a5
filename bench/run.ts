// Runs suites of workloads on one backend and returns a result file (bench/schema.ts): for each
// workload, a correctness check at a small size against the cpu backend in float64, then warm-up
// and timed samples (bench/timing.ts) at the suite's size. A workload that throws (out of memory,
// an unsupported shape) becomes a `skipped` entry with the error, and the run goes on.
import type { Backend } from '../backends/backend.ts';
import { createCpuBackend } from '../backends/cpu/index.ts';
import { deviceFingerprint, engineFingerprint, runtimeFingerprint } from './fingerprint.ts';
import { SCHEMA_NAME, SCHEMA_VERSION, type BenchFile, type BenchMode, type BenchRow, type CorrectnessCheck, type SkippedRow, type SuiteName } from './schema.ts';
import { SUITE_REGISTRY } from './suites.ts';
import { FULL_TIMING, measure, QUICK_TIMING, type TimingPlan } from './timing.ts';
import { relativeError, type Workload } from './workload.ts';

export interface RunOptions {
  suites: SuiteName[];
  mode: BenchMode;
  backend: Backend;
  /** Short name for reports (default: "wgrad <device name>"). */
  label?: string;
  /** Only workloads whose id contains one of these strings. */
  only?: string[];
  /** Skip the correctness checks (they are on by default). */
  noCheck?: boolean;
  log?: (line: string) => void;
  /** The file so far, after every workload (a run stopped by a time limit keeps what it measured). */
  progress?: (file: BenchFile) => void;
}

/** Compare `w.small()` on `backend` with the same on the cpu backend in float64. */
export async function checkWorkload(w: Workload, backend: Backend): Promise<CorrectnessCheck> {
  const small = w.small();
  const ref = createCpuBackend({ precision: 'f64' });
  const run = async (b: Backend) => {
    const inst = await small.build(b);
    try {
      return await inst.outputs();
    } finally {
      inst.dispose();
    }
  };
  const [got, want] = [await run(backend), await run(ref)];
  ref.destroy();
  const maxError = relativeError(got, want);
  const shape = Object.fromEntries(Object.entries(small.shape).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  return { reference: 'cpu-f64', shape, maxError, tolerance: w.tolerance, passed: maxError <= w.tolerance };
}

/** Time one workload (after its check) into a schema row. */
export async function runWorkload(w: Workload, backend: Backend, mode: BenchMode, check?: CorrectnessCheck,
  override?: Partial<TimingPlan>): Promise<BenchRow> {
  const plan = { ...(mode === 'quick' ? QUICK_TIMING : FULL_TIMING), ...w.timing, ...override };
  const inst = await w.build(backend);
  // From here the peak is this workload's own, the model included (torch_bench.py resets at the same point).
  backend.resetPeakMemory();
  try {
    const t = await measure(backend, inst.step, plan, { gpuTimer: !w.wallClock });
    const ms = t.stats.medianMs;
    const metrics = inst.metrics?.(t);
    return {
      id: w.id, suite: w.suite, op: w.op, dtype: w.dtype, shape: w.shape, flops: w.flops, bytes: w.bytes, impl: w.impl,
      timing: t.method, warmup: t.warmup, inner: t.inner, samplesMs: t.samplesMs, stats: t.stats,
      tflops: w.flops / ms / 1e9, gbps: w.bytes / ms / 1e6,
      ...(check ? { check } : {}), ...(metrics ? { metrics } : {}), ...(w.note ? { note: w.note } : {}),
    };
  } finally {
    inst.dispose();
    await backend.sync().catch(() => {});
    (backend as { emptyPool?: () => void }).emptyPool?.(); // the next workload may need the memory
  }
}

const fmt = (x: number, digits = 3) => (x === 0 ? '0' : Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(digits));

export function describeRow(r: BenchRow): string {
  const spread = (100 * r.stats.stdevMs) / r.stats.medianMs;
  const rate = r.metrics?.tokensPerSecond !== undefined ? `${fmt(r.metrics.tokensPerSecond)} tok/s` : `${fmt(r.tflops)} TFLOP/s ${fmt(r.gbps)} GB/s`;
  const check = r.check ? ` check ${r.check.maxError.toExponential(1)} ${r.check.passed ? 'ok' : 'FAILED'}` : '';
  return `${r.id} [${r.dtype}]: ${fmt(r.stats.medianMs)} ms ±${spread.toFixed(1)}%, ${rate}${check} (${r.timing}, ${r.samplesMs.length}×${r.inner})`;
}

export async function runBench(opts: RunOptions): Promise<BenchFile> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const { backend, mode } = opts;
  const device = await deviceFingerprint(backend);
  const [engine, runtime] = [await engineFingerprint(), runtimeFingerprint()];
  log(`wgrad bench (${mode}) on ${device.name}, ${runtime.name} ${runtime.version}`);
  const rows: BenchRow[] = [];
  const skipped: SkippedRow[] = [];
  const file = (): BenchFile => ({
    schema: SCHEMA_NAME, version: SCHEMA_VERSION, label: opts.label ?? `wgrad ${device.name}`,
    suites: opts.suites, mode, date: new Date().toISOString(), engine, runtime, device, rows, skipped,
  });
  for (const name of opts.suites) {
    const suite = SUITE_REGISTRY[name];
    if (!suite) throw new Error(`wgrad bench: unknown suite "${name}" (expected one of ${Object.keys(SUITE_REGISTRY).join(', ')})`);
    log(`suite ${name}: ${suite.description}`);
    for (const u of suite.unsupported?.(mode) ?? []) skipped.push({ ...u, suite: name });
    for (const w of suite.workloads(mode)) {
      if (opts.only && !opts.only.some((s) => w.id.includes(s))) continue;
      try {
        const check = opts.noCheck ? undefined : await checkWorkload(w, backend);
        const row = await runWorkload(w, backend, mode, check);
        rows.push(row);
        log(`  ${describeRow(row)}`);
      } catch (e) {
        const reason = `error: ${(e as Error).message}`;
        skipped.push({ id: w.id, dtype: w.dtype, suite: name, reason });
        log(`  ${w.id} [${w.dtype}]: ${reason}`);
      }
      opts.progress?.(file());
    }
  }
  return file();
}

/** Rows whose correctness check failed, and workloads that errored: what makes `wgrad bench` exit non-zero. */
export function benchFailures(f: BenchFile): string[] {
  return [
    ...f.rows.filter((r) => r.check && !r.check.passed).map((r) => `${r.id}: check failed (error ${r.check!.maxError.toExponential(2)} > ${r.check!.tolerance})`),
    ...f.skipped.filter((s) => s.reason.startsWith('error:')).map((s) => `${s.id}: ${s.reason}`),
  ];
}
