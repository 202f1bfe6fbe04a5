// The Backend interface: the only thing the engine knows about where numbers live.
//
// A backend stores flat, contiguous arrays (Storage) and runs generic primitives on them (upload,
// read, elementwise, copy, reductions, matmul, gather/scatter) plus named routines (run(), one file
// each in backends/routines/). Shapes, broadcasting, autodiff and views belong to the engine; a
// backend sees sizes and strides. Primitives return a fresh Storage, except copyInto, which writes
// into dst; routines say what they return, and the adamw routine updates p, m and v in place. The
// engine frees storages it no longer needs. A backend may run work lazily (the WebGPU backend
// records dispatches and submits them when a value is read), so `read` is the only async primitive.
// Arguments were validated where the user called the op; backends assert their contract.
import type { Program } from '../kernels/expr.ts';
import type { Routine } from './routine.ts';

/** The expression language of Backend.elementwise; the engine builds programs with it. */
export * as expr from '../kernels/expr.ts';


/** Storage types. f16 storage is not built yet (see bench/NOTES.md); only 32-bit types exist. */
export type DType = 'f32' | 'i32';

export const dtypeBytes: Record<DType, number> = { f32: 4, i32: 4 };

export interface Storage {
  readonly backend: Backend;
  readonly size: number; // elements
  readonly dtype: DType;
}

export type ReduceOp = 'sum' | 'max' | 'min';

/** A strided window onto a storage: element i (multi-index idx) lives at offset + Σ idx[d]·strides[d]. */
export interface View {
  storage: Storage;
  offset: number;
  strides: number[]; // one per output dimension; 0 broadcasts
}

export interface MatmulParams {
  batch: number; // number of independent products
  m: number;
  n: number;
  k: number;
  transA: boolean; // A stored [k, m] instead of [m, k]
  transB: boolean; // B stored [n, k] instead of [k, n]
  aBatchStride: number; // elements between consecutive A matrices (0 broadcasts)
  bBatchStride: number;
}

export interface MemoryStats {
  liveBuffers: number; // storages handed out and not yet freed
  liveBytes: number;
  /** The most liveBytes ever held at once since the backend was created. */
  peakLiveBytes: number;
  pooledBuffers: number; // freed buffers kept for reuse (GPU)
  pooledBytes: number;
}

export interface Backend {
  readonly name: 'cpu' | 'webgpu';
  /** Human-readable device description (adapter name, or "cpu (float64)"). */
  readonly description: string;
  /** f32 storages hold float64 on the cpu backend in f64 mode (gradient checks). */
  readonly precision: 'f32' | 'f64';

  upload(data: ArrayLike<number>, dtype: DType): Storage;
  fill(size: number, value: number, dtype: DType): Storage;
  read(s: Storage): Promise<Float32Array | Float64Array | Int32Array>;
  free(s: Storage): void;

  /**
   * One elementwise dispatch: every output of `prog` (kernels/expr.ts) at each index of outShape,
   * input k read through inputs[k] (strided, stride 0 broadcasts; its dtype is prog.inputs[k]).
   * → one contiguous storage of outShape per output, in the output's type.
   */
  elementwise(prog: Program, inputs: View[], outShape: number[]): Storage[];
  /** Materialise a strided view as a contiguous array of outShape (transpose, slice, expand). */
  copy(src: View, outShape: number[]): Storage;
  /** Write contiguous src (shape `shape`) into dst through a strided window (concat, pad). Mutates dst. */
  copyInto(dst: View, src: Storage, shape: number[]): void;
  /** x viewed as [outer, r, inner]; reduce over r → [outer, inner]. */
  reduce(op: ReduceOp, x: Storage, outer: number, r: number, inner: number): Storage;
  /** Index of the max over r for x viewed as [outer, r, inner] → i32 [outer, inner]. */
  argmax(x: Storage, outer: number, r: number, inner: number): Storage;
  /** C[b] = op(A[b]) · op(B[b]) → [batch, m, n]. */
  matmul(a: Storage, b: Storage, p: MatmulParams): Storage;
  /** out[i, :] = table[idx[i], :] for table [rows, cols] → [n, cols]. Out-of-range indices are an error the engine checks. */
  gather(table: Storage, idx: Storage, rows: number, cols: number): Storage;
  /** out[rows, cols] = zeros; out[idx[i], :] += src[i, :] (embedding backward). */
  scatterAdd(src: Storage, idx: Storage, rows: number, cols: number): Storage;
  /**
   * A named routine (attention, token log-probs, LoRA linear, rmsnorm, rope, softmax, AdamW, ...;
   * backends/routines/): asserts its storage contract, then runs this backend's implementation.
   * The routine's documentation says which arguments it returns fresh and which it mutates.
   */
  run<A extends unknown[], R>(routine: Routine<A, R>, ...args: A): R;

  memoryStats(): MemoryStats;
  /** Start peakLiveBytes over from the bytes live now (torch.cuda.reset_peak_memory_stats; per bench workload). */
  resetPeakMemory(): void;
  /** Wait for queued work (a no-op on cpu). */
  sync(): Promise<void>;
  destroy(): void;
}
