// The WebGPU backend: a dispatcher. Backend primitives and routines (../routines/) become WGSL
// dispatches recorded into batched command buffers; copy, gather/scatter, matmul and the reductions
// live in ./copy.ts, ./gather.ts, ./matmul.ts and ./reduce.ts, reading back in ./readback.ts. Storage = one pooled GPUBuffer holding `size` 32-bit elements. Everything except
// read() returns at once; work reaches the GPU when a value is read, on sync(), or every
// `maxPendingDispatches`. The routines reach the device only through GpuRoutineContext.
import type { Backend, DType, MatmulParams, MemoryStats, ReduceOp, Storage, View } from '../backend.ts';
import { parseMatmulPrecision, type GpuRoutineContext, type MatmulPrecision, type Routine, type TilePreferences } from '../routine.ts';
import { fillKernel } from '../../kernels/copy.ts';
import { elementwiseKernel } from '../../kernels/elementwise.ts';
import type { Program } from '../../kernels/expr.ts';
import type { Kernel } from '../../kernels/wgsl.ts';
import { envVar, type AcquiredDevice, type AdapterInfo } from './device.ts';
import { copyGpu, copyIntoGpu } from './copy.ts';
import { gatherGpu, scatterAddGpu } from './gather.ts';
import { missingDawnFlags } from './profiles.ts';
import { foldGrid, MAX_WORKGROUPS_PER_DIM } from './grid.ts';
import { matmulGpu } from './matmul.ts';
import { PipelineCache } from './pipelines.ts';
import { BufferPool, type PooledBuffer } from './pool.ts';
import { Readbacks } from './readback.ts';
import { Recorder, type StorageBinding } from './recorder.ts';
import { DispatchProfiler } from './profiler.ts';
import { argmaxGpu, reduceGpu } from './reduce.ts';
import { GpuTimer } from './timer.ts';
import { checkView, numel, stridedLaunch } from './views.ts';


export interface WebGPUBackendOptions {
  /** Submit after this many recorded commands even if nothing is read (default 512). */
  maxPendingDispatches?: number;
  /**
   * Freed bytes kept in the pool for reuse. Default: the larger of 4 GiB (capped at maxBufferSize · 4)
   * and the most bytes ever live at once, so a training step finds every buffer of the previous
   * step again (at 4 GiB a LoRA SFT step whose intermediates peak at 27 GB re-created ~20 GB of
   * buffers each step and spent 3× its time in createBuffer; bench/NOTES.md).
   */
  poolLimitBytes?: number;
  /**
   * Workgroups per grid dimension (default and maximum: 65535, the WebGPU limit). Smaller values
   * only serve tests of grid folding and batch splitting at sizes a software GPU can run.
   */
  maxWorkgroupsPerDimension?: number;
  /**
   * 'f16' runs f32 matmuls on the matrix units (tensor cores) with operands rounded to f16 and f32
   * accumulation (kernels/matmul-mma.ts); needs shader-f16 and chromium-experimental-subgroup-matrix
   * with 32-lane subgroups, else creation fails and says what is missing. Default: $WGRAD_MATMUL_PRECISION, else 'f32'.
   */
  matmulPrecision?: MatmulPrecision;
}

class GPUStorage implements Storage {
  constructor(
    readonly backend: WebGPUBackend,
    readonly size: number,
    readonly dtype: DType,
    public buf: PooledBuffer | null,
  ) {}
}

export class WebGPUBackend implements Backend, GpuRoutineContext {
  readonly name = 'webgpu' as const;
  readonly precision = 'f32' as const;
  readonly description: string;
  readonly device: GPUDevice;
  readonly features: ReadonlySet<string>;
  readonly runtime: AcquiredDevice['runtime'];
  readonly adapterInfo: AdapterInfo;
  /** The device profile (profiles.ts) chosen at acquisition, why, and the Dawn flags it lacks. */
  readonly profile: { name: string; why: string; missingDawnFlags: string[] };
  /** The profile's tile preferences, read by the matmul and attention routines (GpuRoutineContext.tiles). */
  readonly tiles: TilePreferences;
  readonly matmulPrecision: MatmulPrecision;

  private readonly pool: BufferPool;
  private readonly recorder: Recorder;
  private readonly pipelines: PipelineCache;
  readonly maxWorkgroups: number;
  private readonly memos = new Map<string, unknown>();
  private readonly readbacks: Readbacks;
  private readonly elementwiseKernels = new Map<string, Map<string, Kernel>>();
  private readonly elementwiseByProgram = new WeakMap<Program, Map<string, Kernel>>();
  private readonly deviceErrors: Error[] = [];
  private lost: string | null = null;
  private destroyed = false;
  private readonly ownsDevice: boolean;
  private live = 0;
  private liveBytes = 0;
  private peakLiveBytes = 0;

  constructor(acq: AcquiredDevice, opts: WebGPUBackendOptions = {}) {
    this.device = acq.device;
    this.features = acq.features;
    this.runtime = acq.runtime;
    this.adapterInfo = acq.adapterInfo;
    this.profile = { name: acq.profile.name, why: acq.profileWhy, missingDawnFlags: acq.runtime === 'node' ? missingDawnFlags(acq.profile, acq.dawnFlags) : [] };
    this.tiles = acq.profile.tiles;
    this.matmulPrecision = checkMatmulPrecision(opts.matmulPrecision ?? envVar('WGRAD_MATMUL_PRECISION') ?? 'f32', acq);
    this.ownsDevice = acq.ownsDevice;
    this.description = `webgpu (${acq.adapterName}; ${acq.runtime})`;
    this.maxWorkgroups = Math.min(
      opts.maxWorkgroupsPerDimension ?? MAX_WORKGROUPS_PER_DIM, MAX_WORKGROUPS_PER_DIM,
      this.device.limits.maxComputeWorkgroupsPerDimension,
    );
    this.recorder = new Recorder(this.device, opts.maxPendingDispatches ?? 512);
    this.pipelines = new PipelineCache(this.device);
    this.readbacks = new Readbacks(this.device, this.recorder);
    const floor = Math.min(4 * 2 ** 30, 4 * this.device.limits.maxBufferSize);
    const poolLimit = opts.poolLimitBytes !== undefined ? () => opts.poolLimitBytes! : () => Math.max(floor, this.peakLiveBytes);
    this.pool = new BufferPool(this.device, poolLimit, (b) => this.recorder.destroyWhenIdle(b));
    this.device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.deviceErrors.push(new Error(`webgpu backend: device error: ${e.message}`));
    });
    void this.device.lost.then((info) => {
      if (!this.destroyed) this.lost = `${info.reason}: ${info.message}`;
    });
  }

  /**
   * A GPU timer over the compute passes this backend records (bench/timing.ts), or null when the
   * device was created without 'timestamp-query' (DeviceOptions.timestampQuery) or lacks it.
   */
  createTimer(maxPasses = 2048): GpuTimer | null {
    this.alive('createTimer');
    if (!this.device.features.has('timestamp-query')) return null;
    return new GpuTimer(this.device, this.recorder, maxPasses);
  }

  /**
   * Run fn with every dispatch timed on its own (profiler.ts): the kernel key and GPU ms of each
   * dispatch, in order. Needs 'timestamp-query'.
   */
  async profileDispatches(fn: () => unknown): Promise<{ kernel: string; ms: number }[]> {
    this.alive('profileDispatches');
    if (!this.device.features.has('timestamp-query')) throw new Error('webgpu profileDispatches: the device was created without timestamp-query');
    const profiler = new DispatchProfiler(this.device);
    this.recorder.setProfiler(profiler);
    try {
      await fn();
    } finally {
      this.recorder.setProfiler(null);
    }
    return profiler.read((set, count, dst) => this.recorder.resolveQueries(set, count, dst), () => this.recorder.flush());
  }

  /** Commands recorded, submits made, uploads by path; for tests and benchmarks. */
  get counters(): Readonly<Recorder['counters']> & { pipelines: number } {
    return { ...this.recorder.counters, pipelines: this.pipelines.size };
  }

  // ---- storage -------------------------------------------------------------------------------

  alloc(size: number, dtype: DType, op: string): GPUStorage {
    this.alive(op);
    if (dtype !== 'f32' && dtype !== 'i32') throw new Error(`webgpu ${op}: dtype ${dtype} is not supported (f32 and i32 are)`);
    if (!Number.isInteger(size) || size < 0) throw new Error(`webgpu ${op}: size ${size} must be a non-negative integer`);
    const buf = this.pool.acquire(size * 4);
    this.live++;
    this.liveBytes += buf.bytes;
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
    return new GPUStorage(this, size, dtype, buf);
  }

  private buf(op: string, field: string, s: Storage): PooledBuffer {
    if (!(s instanceof GPUStorage) || s.backend !== this) {
      throw new Error(`webgpu ${op}: ${field} belongs to another backend (${s?.backend?.name ?? typeof s})`);
    }
    if (!s.buf) throw new Error(`webgpu ${op}: ${field} was already freed`);
    return s.buf;
  }

  bind(op: string, field: string, s: Storage): StorageBinding {
    const buffer = this.buf(op, field, s);
    // Whole 16-byte units (kernels may view a buffer as array<vec4<f32>>); pool buffers are ≥ 256
    // bytes and multiples of 16, so this never reaches past the allocation.
    const size = Math.min(buffer.bytes, Math.max(16, Math.ceil(s.size / 4) * 16));
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (size > max) {
      throw new Error(`webgpu ${op}: ${field} is ${size} bytes, over this device's maxStorageBufferBindingSize (${max})`);
    }
    return { buffer, size };
  }

  private alive(op: string): void {
    if (this.destroyed) throw new Error(`webgpu ${op}: the backend was destroyed`);
    if (this.lost) throw new Error(`webgpu ${op}: the GPU device was lost (${this.lost})`);
  }

  upload(data: ArrayLike<number>, dtype: DType): Storage {
    const out = this.alloc(data.length, dtype, 'upload');
    const typed = dtype === 'f32'
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : (data instanceof Int32Array ? data : Int32Array.from(data));
    this.recorder.upload(out.buf!, typed);
    return out;
  }

  fill(size: number, value: number, dtype: DType): Storage {
    const out = this.alloc(size, dtype, 'fill');
    if (size === 0) return out;
    const bits = dtype === 'f32'
      ? new Uint32Array(new Float32Array([value]).buffer)[0]
      : (value | 0) >>> 0; // ToInt32, as an Int32Array store does
    if (bits === 0) this.recorder.clear(out.buf!, size * 4);
    else this.run1d('fill', fillKernel(), [this.bind('fill', 'out', out)], { n: size, bits });
    return out;
  }

  async read(s: Storage): Promise<Float32Array | Int32Array> {
    const buf = this.buf('read', 'storage', s);
    this.alive('read');
    const data = await this.readbacks.read(buf, s.size * 4, () => this.throwPending());
    await this.throwPending();
    return s.dtype === 'i32' ? new Int32Array(data) : new Float32Array(data);
  }

  free(s: Storage): void {
    const buf = this.buf('free', 'storage', s);
    (s as GPUStorage).buf = null;
    this.live--;
    this.liveBytes -= buf.bytes;
    if (!this.destroyed) this.pool.release(buf);
  }

  // ---- elementwise ---------------------------------------------------------------------------

  elementwise(prog: Program, inputs: View[], outShape: number[]): Storage[] {
    const op = 'elementwise';
    const K = inputs.length, M = prog.outputs.length;
    if (K !== prog.inputs.length) throw new Error(`webgpu ${op}: the program reads ${prog.inputs.length} inputs, got ${K} views`);
    const limit = this.device.limits.maxStorageBuffersPerShaderStage;
    if (K + M > limit) throw new Error(`webgpu ${op}: ${K} inputs + ${M} outputs exceed this device's ${limit} storage buffers per shader`);
    inputs.forEach((v, k) => {
      if (v.storage.dtype !== prog.inputs[k]) throw new Error(`webgpu ${op}: input ${k} is ${v.storage.dtype} but the program reads ${prog.inputs[k]}`);
    });
    const bindings = inputs.map((v, k) => this.bind(op, `input ${k}`, v.storage));
    const named = inputs.map((v, k): [string, View] => [`v${k}`, v]);
    // Broadcast scalars (every stride 0) are read once per thread, so they do not keep the other
    // views from the vec4 kernel; they keep their element offset there.
    const scalar = inputs.map((v) => v.strides.length > 0 && v.strides.every((st) => st === 0));
    const split = scalar.some(Boolean) && !scalar.every(Boolean);
    const c = this.strided(op, outShape, split ? named.filter((_, k) => !scalar[k]) : named);
    const outs = prog.outputs.map((id) => this.alloc(numel(outShape), prog.nodes[id].t, op));
    if (c === null) return outs;
    if (split) {
      named.forEach(([name, v], k) => {
        if (!scalar[k]) return;
        checkView(op, name, v, outShape, v.storage.size);
        c.values[`${name}_o`] = v.offset;
        for (let d = 0; d < c.rank; d++) c.values[`${name}_s${d}`] = 0;
      });
    }
    bindings.push(...outs.map((o, j) => this.bind(op, `output ${j}`, o)));
    this.run1d(op, this.elementwiseKernelFor(prog, c.rank, c.vec4, c.vec4 ? scalar : null), bindings, c.values);
    return outs;
  }

  /** The WGSL of a program, memoised per program object and variant: building it costs more host time than recording. */
  private elementwiseKernelFor(prog: Program, rank: number, vec4: boolean, scalar: boolean[] | null): Kernel {
    const variant = `${rank}:${+vec4}:${scalar ? scalar.map(Number).join('') : ''}`;
    let byVariant = this.elementwiseByProgram.get(prog);
    if (!byVariant) {
      if (this.elementwiseKernels.size >= 4096) this.elementwiseKernels.clear();
      byVariant = this.elementwiseKernels.get(prog.key) ?? new Map();
      this.elementwiseKernels.set(prog.key, byVariant);
      this.elementwiseByProgram.set(prog, byVariant);
    }
    let k = byVariant.get(variant);
    if (!k) byVariant.set(variant, (k = elementwiseKernel(prog, rank, vec4, scalar ?? undefined)));
    return k;
  }

  copy(src: View, outShape: number[]): Storage {
    return copyGpu(this, src, outShape);
  }

  copyInto(dst: View, src: Storage, shape: number[]): void {
    copyIntoGpu(this, dst, src, shape);
  }

  private strided(op: string, outShape: number[], views: [string, View][]) {
    return stridedLaunch(op, outShape, views.map(([name, v]) => ({ name, view: v, size: v.storage.size })));
  }

  // ---- reductions, matmul (./reduce.ts, ./matmul.ts), gather, scatter ------------------------

  reduce(op: ReduceOp, x: Storage, outer: number, r: number, inner: number): Storage {
    return reduceGpu(this, op, x, outer, r, inner);
  }

  argmax(x: Storage, outer: number, r: number, inner: number): Storage {
    return argmaxGpu(this, x, outer, r, inner);
  }

  matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
    return matmulGpu(this, a, b, p);
  }

  gather(table: Storage, idx: Storage, rows: number, cols: number): Storage {
    return gatherGpu(this, table, idx, rows, cols);
  }

  scatterAdd(src: Storage, idx: Storage, rows: number, cols: number): Storage {
    return scatterAddGpu(this, src, idx, rows, cols);
  }

  // ---- routines (../routines/) and the context they dispatch through -------------------------

  run<A extends unknown[], R>(routine: Routine<A, R>, ...args: A): R {
    this.alive(routine.name);
    routine.assert(...args);
    return routine.webgpu(this, ...args);
  }

  get backend(): Backend {
    return this;
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  clear(s: Storage): void {
    const buf = this.buf('clear', 'storage', s);
    if (s.size > 0) this.recorder.clear(buf, s.size * 4);
  }

  run1d(op: string, kernel: Kernel, bindings: StorageBinding[], values: Record<string, number>): void {
    this.runGrid(op, kernel, bindings, values, Math.ceil(values.n / kernel.workgroupSize));
  }

  runGrid(op: string, kernel: Kernel, bindings: StorageBinding[], values: Record<string, number>, workgroups: number): void {
    this.alive(op);
    const u = new Uint32Array(kernel.params.length);
    kernel.params.forEach((p, i) => {
      const v = values[p];
      if (v === undefined) throw new Error(`webgpu ${op}: kernel ${kernel.key} needs parameter '${p}'`);
      u[i] = v >>> 0;
    });
    const [x, y] = foldGrid(workgroups, this.maxWorkgroups);
    this.recorder.dispatch(this.pipelines.get(kernel.key, kernel.code), bindings, u, [x, y, 1]);
  }

  dispatch(op: string, kernel: { key: string; code: string }, bindings: StorageBinding[], uniform: Uint32Array, grid: [number, number, number]): void {
    this.alive(op);
    this.recorder.dispatch(this.pipelines.get(kernel.key, kernel.code), bindings, uniform, grid);
  }

  memo<T>(key: string, make: () => T): T {
    if (!this.memos.has(key)) {
      if (this.memos.size >= 8192) this.memos.clear(); // many shapes (growing sequences)
      this.memos.set(key, make());
    }
    return this.memos.get(key) as T;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Bytes are GPU allocations (pool bucket sizes), not element counts × 4. */
  memoryStats(): MemoryStats {
    return { liveBuffers: this.live, liveBytes: this.liveBytes, peakLiveBytes: this.peakLiveBytes, pooledBuffers: this.pool.pooledBuffers, pooledBytes: this.pool.pooledBytes };
  }

  /** The pool's limit follows the peak, so it shrinks with it until the next step grows it again. */
  resetPeakMemory(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  /** Destroy the pooled (freed) buffers now, e.g. before a phase that needs the memory. */
  emptyPool(): void {
    this.pool.clear();
  }

  async sync(): Promise<void> {
    this.alive('sync');
    this.recorder.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.throwPending();
  }

  private async throwPending(): Promise<void> {
    await this.pipelines.check();
    if (this.deviceErrors.length > 0) throw this.deviceErrors.shift()!;
    if (this.lost) throw new Error(`webgpu backend: the GPU device was lost (${this.lost})`);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool.clear();
    this.readbacks.destroy();
    this.recorder.dispose();
    if (this.ownsDevice) this.device.destroy();
  }
}

/** The requested matmul precision, if this device can give it (else an error saying what it lacks). */
function checkMatmulPrecision(name: string, acq: AcquiredDevice): MatmulPrecision {
  const want = parseMatmulPrecision(name, 'webgpu');
  if (want === 'f32') return want;
  const missing = ['shader-f16', 'chromium-experimental-subgroup-matrix'].filter((f) => !acq.features.has(f));
  if (acq.profile.subgroupSize !== 32) missing.push(`32-lane subgroups (profile '${acq.profile.name}' promises ${acq.profile.subgroupSize ?? 'no fixed size'})`);
  if (missing.length) {
    throw new Error(`webgpu backend: matmul precision 'f16' needs ${missing.join(', ')}, which ${acq.adapterName} lacks here` +
      (acq.runtime === 'node' ? ` (in Node, Dawn shows them on NVIDIA only with WEBGPU_DAWN_FLAGS='${acq.profile.dawnFlags.join(' ')}')` : '') + "; use 'f32'");
  }
  return want;
}
