// The benchmark result schema (version 1): one JSON file per run, written by `wgrad bench`
// (Node, Deno), by web/bench.html (browser) and by bench/reference/torch_bench.py (PyTorch), and read
// by `wgrad bench compare`. Rows are matched across files by `id` (the workload, without dtype) and
// `dtype`; a file says which device, runtime and engine produced it.
//
// Counting rules (the same in TypeScript and Python):
//   flops: the useful floating-point operations of the workload (2·m·n·k for a matmul; causal
//          attention counts only the unmasked half; model steps use the usual 2·params·tokens
//          estimates, documented next to each workload).
//   bytes: the fewest bytes the workload must move (each input read once, each output written once,
//          at the row's storage dtype), not what an unfused implementation moves. Achieved GB/s and
//          arithmetic intensity (flops / bytes) are therefore comparable across implementations.

export const SCHEMA_NAME = 'wgrad-bench';
export const SCHEMA_VERSION = 1;

export const SUITES = ['kernels', 'training', 'generation'] as const;
export type SuiteName = (typeof SUITES)[number];
export const MODES = ['quick', 'full'] as const;
export type BenchMode = (typeof MODES)[number];
export const TIMING_METHODS = ['gpu-timestamp', 'wall-clock', 'cuda-event'] as const;
export type TimingMethod = (typeof TIMING_METHODS)[number];
/** f32 on every engine; tf32 and bf16 rows come from PyTorch (WebGPU has neither); f16 where a device has shader-f16. */
export const DTYPES = ['f32', 'tf32', 'bf16', 'f16'] as const;
export type BenchDType = (typeof DTYPES)[number];

export interface AdapterFingerprint {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface DeviceFingerprint {
  /** The backend the rows ran on: wgrad's 'webgpu' or 'cpu', PyTorch's 'cuda' or 'cpu'. */
  backend: string;
  /** One line for tables: "NVIDIA H200 (webgpu)". */
  name: string;
  /** WebGPU adapter info; for CUDA the device name in `description`. */
  adapter: AdapterFingerprint | null;
  /** Device features (WebGPU feature names; PyTorch: e.g. "cuda-capability-9.0"). */
  features: string[];
  /** Device limits by name (WebGPU limits; PyTorch: total memory, SM count). */
  limits: Record<string, number>;
  /** Host CPU model and logical cores, where the runtime can tell. */
  host?: { cpu?: string; cores?: number; os?: string };
}

export interface RuntimeFingerprint {
  /** 'node' | 'deno' | 'browser' | 'python' */
  name: string;
  version: string;
  /** navigator.userAgent in browsers. */
  userAgent?: string;
}

export interface EngineFingerprint {
  /** 'wgrad' or 'pytorch' */
  name: string;
  version: string;
  /** git commit of the code that ran, when known. */
  commit?: string;
  /** Other versions that matter (PyTorch: cuda, cudnn, transformers, peft; wgrad: Dawn toggles). */
  details?: Record<string, string>;
}

export interface TimingStats {
  medianMs: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  stdevMs: number;
}

export interface CorrectnessCheck {
  /** What the result was compared with: 'cpu-f64' (wgrad's cpu backend in float64), 'float64' (PyTorch). */
  reference: string;
  /** The small size the check ran at (named dims). */
  shape: Record<string, number>;
  /** max |got − ref| / max(max |ref|, 1e-30) over every checked output. */
  maxError: number;
  tolerance: number;
  passed: boolean;
}

export interface BenchRow {
  /** Workload identity without dtype, shared by engines: "matmul_4096_nn", "attention_fwd_bwd_b8h9t512d64". */
  id: string;
  suite: SuiteName;
  /** Kind of workload: 'matmul', 'add', 'attention_fwd', 'lora_sft_step', 'generate', ... */
  op: string;
  dtype: BenchDType;
  /** Named sizes: { m, n, k }, { batch, heads, seq, headDim }, { batch, seq, layers, ... }. */
  shape: Record<string, number | string>;
  /** Useful FLOPs and minimum bytes of one repetition (see the counting rules above). */
  flops: number;
  bytes: number;
  /** What ran: the wgrad ops or kernels, or the torch call. */
  impl: string;
  timing: TimingMethod;
  warmup: number;
  /** Repetitions per sample (back-to-back, one timed span). */
  inner: number;
  /** Milliseconds per repetition, one per sample. */
  samplesMs: number[];
  stats: TimingStats;
  /** Achieved, from the median: flops / median / 1e12 and bytes / median / 1e9. */
  tflops: number;
  gbps: number;
  check?: CorrectnessCheck;
  /**
   * Workload-specific numbers: tokensPerSecond, loss, phase times, and on training rows the peak
   * device memory of the workload (model, optimizer state and steps; reset after the model is
   * built): `peakLiveBytes` (wgrad: the backend's most bytes of live storages at once, GPU
   * allocation sizes) or `peakAllocatedBytes` (PyTorch: torch.cuda.max_memory_allocated()).
   * `peakMemoryBytes` reads either; `bench compare` prints their ratio.
   */
  metrics?: Record<string, number>;
  note?: string;
}

export interface SkippedRow {
  id: string;
  dtype: BenchDType;
  suite: SuiteName;
  /** Why it did not run: unsupported dtype, out of memory, an error message. */
  reason: string;
}

export interface BenchFile {
  schema: typeof SCHEMA_NAME;
  version: typeof SCHEMA_VERSION;
  /** A short name for tables and charts, e.g. "wgrad webgpu H200" (defaults to engine + device). */
  label: string;
  suites: SuiteName[];
  mode: BenchMode;
  /** ISO 8601. */
  date: string;
  engine: EngineFingerprint;
  runtime: RuntimeFingerprint;
  device: DeviceFingerprint;
  rows: BenchRow[];
  skipped: SkippedRow[];
}

/** Row identity used to match rows across files. */
export const rowKey = (r: { id: string; dtype: string }): string => `${r.id} [${r.dtype}]`;

/** A row's peak device memory in bytes (wgrad's peakLiveBytes or PyTorch's peakAllocatedBytes), if recorded. */
export function peakMemoryBytes(r: BenchRow): number | undefined {
  return r.metrics?.peakLiveBytes ?? r.metrics?.peakAllocatedBytes;
}
