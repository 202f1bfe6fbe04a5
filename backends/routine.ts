// A named routine: one fused operation (attention, token log-probs, LoRA linear, rmsnorm, rope,
// AdamW, ...) declared once, in backends/routines/<name>.ts beside the kernel it dispatches, with
//   - assert: the storage contract (dtypes, element counts, integral sizes). The engine op that
//     calls the routine validated the user's input with messages in the user's terms; this is the
//     lower layer's assertion, run once by Backend.run for whichever backend runs it;
//   - cpu: the reference implementation (plain loops, float64 accumulation);
//   - webgpu: building the WGSL kernel(s) and recording the dispatches.
// Backend.run(routine, ...args) asserts, then calls the implementation of its own backend.
import type { Kernel } from '../kernels/wgsl.ts';
import type { AttentionTiles } from '../kernels/attention-common.ts';
import type { MatmulPresetName } from '../kernels/matmul.ts';
import type { Backend, DType, Storage } from './backend.ts';
import type { StorageBinding } from './webgpu/recorder.ts';

export type CpuData = Float32Array | Float64Array | Int32Array;

/** What a routine's cpu implementation uses of the cpu backend. */
export interface CpuRoutineContext {
  readonly precision: 'f32' | 'f64';
  /** A zero-filled storage (Float64Array behind f32 storages in f64 mode). */
  alloc(size: number, dtype: DType): Storage;
  /** The array behind a storage of this backend (mutating it mutates the storage). */
  data(s: Storage): CpuData;
}

/** A storage bound to a dispatch: its pooled GPU buffer and the bytes bound. */
export type GpuBinding = StorageBinding;

/** What a routine's WebGPU implementation uses of the WebGPU backend. */
export interface GpuRoutineContext {
  /** The backend's own primitives, for routines that fall back to composing them. */
  readonly backend: Backend;
  readonly limits: { readonly maxComputeWorkgroupStorageSize: number; readonly maxComputeInvocationsPerWorkgroup: number; readonly maxStorageBuffersPerShaderStage: number };
  /** Workgroups allowed per grid dimension. */
  readonly maxWorkgroups: number;
  alloc(size: number, dtype: DType, op: string): Storage;
  /** Bind a storage (errors name op and field when it is freed or foreign). */
  bind(op: string, field: string, s: Storage): GpuBinding;
  /** Zero-fill a storage. */
  clear(s: Storage): void;
  /** One thread per element: ceil(values.n / workgroupSize) workgroups; uniforms packed by kernel.params. */
  run1d(op: string, kernel: Kernel, bindings: GpuBinding[], values: Record<string, number>): void;
  /** `workgroups` workgroups, folded into a 2-D grid when over the per-dimension limit. */
  runGrid(op: string, kernel: Kernel, bindings: GpuBinding[], values: Record<string, number>, workgroups: number): void;
  /** A kernel with a uniform block of its own layout (the matmul family) over an explicit grid. */
  dispatch(op: string, kernel: { key: string; code: string }, bindings: GpuBinding[], uniform: Uint32Array, grid: [number, number, number]): void;
  /** A value (a shape-specialised kernel) built once per key on this backend. */
  memo<T>(key: string, make: () => T): T;
  /** The device profile's tile preferences (backends/webgpu/profiles.ts); absent: the kernels' defaults. */
  readonly tiles?: TilePreferences;
  /**
   * 'f16': f32 products that kernels/matmul-mma.ts serves run on the matrix units with operands
   * rounded to f16 (the backend only says so where the device has them); absent or 'f32': f32 FMAs.
   */
  readonly matmulPrecision?: MatmulPrecision;
}

/** How f32 matmuls compute: exact f32 FMAs, or f16 operands on the matrix units with f32 accumulation. */
export type MatmulPrecision = 'f32' | 'f16';

/** A matmul precision named by a user (option or environment variable), checked. */
export function parseMatmulPrecision(v: string, backend: string): MatmulPrecision {
  if (v === 'f32' || v === 'f16') return v;
  throw new Error(`${backend} backend: matmul precision '${v}' (WGRAD_MATMUL_PRECISION / matmulPrecision) must be 'f32' or 'f16'`);
}

/**
 * Tiles a device profile prefers, in order: the first that fits the device's limits and suits the
 * shape wins (kernels/matmul.ts choosePreset, kernels/attention-common.ts chooseTiles).
 */
export interface TilePreferences {
  matmul: readonly MatmulPresetName[];
  attention: { forward: readonly AttentionTiles[]; backward: readonly AttentionTiles[] };
}

export interface Routine<A extends unknown[], R> {
  readonly name: string;
  assert(...args: A): void;
  cpu(c: CpuRoutineContext, ...args: A): R;
  webgpu(g: GpuRoutineContext, ...args: A): R;
}

// ---- assertions shared by the routines ------------------------------------------------------

/** Sizes must be non-negative integers. */
export function assertSizes(op: string, sizes: Record<string, number>): void {
  for (const [k, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`${op}: sizes ${Object.keys(sizes).join(', ')} = ${Object.values(sizes).join(', ')} must be non-negative integers (${k} = ${v})`);
    }
  }
}

/** field → [storage or null (absent), dtype, shape]: each present storage holds dtype × ∏shape elements. */
export function assertStorages(op: string, want: Record<string, [Storage | null, DType, number[]]>): void {
  for (const [f, [s, dtype, shape]] of Object.entries(want)) {
    if (!s) continue;
    const n = shape.reduce((a, b) => a * b, 1);
    if (s.dtype !== dtype || s.size !== n) {
      throw new Error(`${op}: ${f} must be ${dtype} [${shape.join(', ')}] (${n} elements), got ${s.dtype} with ${s.size} elements`);
    }
  }
}

/** f32 bit pattern of x, for uniform words. */
export function f32Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}
