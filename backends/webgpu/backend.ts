// The WebGPU backend: a dispatcher. Backend primitives and routines (../routines/) become WGSL
// dispatches recorded into batched command buffers; matmul and the reductions live in ./matmul.ts
// and ./reduce.ts. Storage = one pooled GPUBuffer holding `size` 32-bit elements. Everything except
// read() returns at once; work reaches the GPU when a value is read, on sync(), or every
// `maxPendingDispatches`. The routines reach the device only through GpuRoutineContext.
import type { Backend, BinaryOp, DType, MatmulParams, MemoryStats, ReduceOp, Storage, UnaryOp, View } from '../backend.ts';
import type { GpuRoutineContext, Routine } from '../routine.ts';
import { BINARY_F32, binaryKernel } from '../../kernels/binary.ts';
import { copyIntoKernel, copyKernel, fillKernel } from '../../kernels/copy.ts';
import { gatherKernel, scatterAddKernel } from '../../kernels/gather.ts';
import { UNARY_F32, unaryKernel, unaryOutDType } from '../../kernels/unary.ts';
import { whereKernel } from '../../kernels/where.ts';
import { type Kernel, stridedValues } from '../../kernels/wgsl.ts';
import type { AcquiredDevice, AdapterInfo } from './device.ts';
import { missingDawnFlags } from './profiles.ts';
import { foldGrid, MAX_WORKGROUPS_PER_DIM } from './grid.ts';
import { matmulGpu } from './matmul.ts';
import { PipelineCache } from './pipelines.ts';
import { BufferPool, type PooledBuffer } from './pool.ts';
import { Recorder, type StorageBinding } from './recorder.ts';
import { argmaxGpu, reduceGpu } from './reduce.ts';
import { GpuTimer } from './timer.ts';
import { checkShape, checkView, collapseDims, numel, type StridedView, vec4Views } from './views.ts';

// Compile-time proof that the kernels cover every op of the Backend contract.
const _unaryCovered: Record<UnaryOp, string> = UNARY_F32;
const _binaryCovered: Record<BinaryOp, string> = BINARY_F32;
void _unaryCovered, void _binaryCovered;

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

  private readonly pool: BufferPool;
  private readonly recorder: Recorder;
  private readonly pipelines: PipelineCache;
  readonly maxWorkgroups: number;
  private readonly memos = new Map<string, unknown>();
  private readonly readbacks = new Map<number, GPUBuffer[]>();
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
    this.ownsDevice = acq.ownsDevice;
    this.description = `webgpu (${acq.adapterName}; ${acq.runtime})`;
    this.maxWorkgroups = Math.min(
      opts.maxWorkgroupsPerDimension ?? MAX_WORKGROUPS_PER_DIM, MAX_WORKGROUPS_PER_DIM,
      this.device.limits.maxComputeWorkgroupsPerDimension,
    );
    this.recorder = new Recorder(this.device, opts.maxPendingDispatches ?? 512);
    this.pipelines = new PipelineCache(this.device);
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
    const bytes = s.size * 4;
    let data: ArrayBuffer;
    if (bytes === 0) {
      this.recorder.flush();
      data = new ArrayBuffer(0);
    } else {
      const rb = this.readbacks.get(buf.bytes)?.pop() ??
        this.device.createBuffer({ size: buf.bytes, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
      this.recorder.copy(buf, 0, rb, 0, bytes);
      this.recorder.flush();
      try {
        await rb.mapAsync(0x01 /* GPUMapMode.READ */, 0, bytes);
      } catch (e) {
        await this.throwPending();
        throw new Error(`webgpu read: mapping the readback buffer failed: ${(e as Error).message}`);
      }
      data = rb.getMappedRange(0, bytes).slice(0);
      rb.unmap();
      this.recycleReadback(buf.bytes, rb);
    }
    await this.throwPending();
    return s.dtype === 'i32' ? new Int32Array(data) : new Float32Array(data);
  }

  /** Keep a few small readback buffers (a loss per step); big ones are one-offs. */
  private recycleReadback(bytes: number, rb: GPUBuffer): void {
    let list = this.readbacks.get(bytes);
    if (!list) this.readbacks.set(bytes, (list = []));
    if (bytes <= 16 << 20 && list.length < 4) list.push(rb);
    else rb.destroy();
  }

  free(s: Storage): void {
    const buf = this.buf('free', 'storage', s);
    (s as GPUStorage).buf = null;
    this.live--;
    this.liveBytes -= buf.bytes;
    if (!this.destroyed) this.pool.release(buf);
  }

  // ---- elementwise ---------------------------------------------------------------------------

  unary(op: UnaryOp, x: Storage): Storage {
    if (!(op in UNARY_F32)) throw new Error(`webgpu unary: unknown op '${op}' (one of ${Object.keys(UNARY_F32).join(', ')})`);
    const dt = x.dtype;
    const xb = this.bind(`unary ${op}`, 'x', x);
    const out = this.alloc(x.size, unaryOutDType(op, dt), `unary ${op}`);
    if (x.size === 0) return out;
    const vec4 = x.size % 4 === 0;
    this.run1d(`unary ${op}`, unaryKernel(op, dt, vec4), [xb, this.bind('unary', 'out', out)], { n: vec4 ? x.size / 4 : x.size });
    return out;
  }

  binary(op: BinaryOp, a: View, b: View, outShape: number[]): Storage {
    const name = `binary ${op}`;
    if (!(op in BINARY_F32)) throw new Error(`webgpu binary: unknown op '${op}' (one of ${Object.keys(BINARY_F32).join(', ')})`);
    const dt = a.storage.dtype;
    if (b.storage.dtype !== dt) {
      throw new Error(`webgpu ${name}: a is ${dt} but b is ${b.storage.dtype}; cast one first`);
    }
    const [ab, bb] = [this.bind(name, 'a', a.storage), this.bind(name, 'b', b.storage)];
    const c = this.strided(name, outShape, [['a', a], ['b', b]]);
    const out = this.alloc(numel(outShape), dt, name);
    if (c === null) return out;
    this.run1d(name, binaryKernel(op, dt, c.rank, c.vec4), [ab, bb, this.bind(name, 'out', out)], c.values);
    return out;
  }

  where(cond: View, a: View, b: View, outShape: number[]): Storage {
    const cdt = cond.storage.dtype;
    const dt = a.storage.dtype;
    if (b.storage.dtype !== dt) throw new Error(`webgpu where: a is ${dt} but b is ${b.storage.dtype}`);
    const bindings = [
      this.bind('where', 'cond', cond.storage), this.bind('where', 'a', a.storage), this.bind('where', 'b', b.storage),
    ];
    const c = this.strided('where', outShape, [['c', cond], ['a', a], ['b', b]]);
    const out = this.alloc(numel(outShape), dt, 'where');
    if (c === null) return out;
    this.run1d('where', whereKernel(cdt, c.rank, c.vec4), [...bindings, this.bind('where', 'out', out)], c.values);
    return out;
  }

  copy(src: View, outShape: number[]): Storage {
    const dt = src.storage.dtype;
    const sb = this.bind('copy', 'src', src.storage);
    const c = this.strided('copy', outShape, [['s', src]]);
    const out = this.alloc(numel(outShape), dt, 'copy');
    if (c === null) return out;
    // Contiguous views too: on an H200 the kernel copies at ~2x copyBufferToBuffer's rate, and it
    // keeps the compute pass open.
    this.run1d('copy', copyKernel(c.rank, c.vec4), [sb, this.bind('copy', 'out', out)], c.values);
    return out;
  }

  copyInto(dst: View, src: Storage, shape: number[]): void {
    const dt = dst.storage.dtype;
    if (src.dtype !== dt) throw new Error(`webgpu copyInto: dst is ${dt} but src is ${src.dtype}`);
    if (src.size !== numel(shape)) {
      throw new Error(`webgpu copyInto: src holds ${src.size} elements but shape [${shape.join(', ')}] has ${numel(shape)}`);
    }
    const db = this.bind('copyInto', 'dst', dst.storage);
    let sb = this.bind('copyInto', 'src', src);
    const c = this.strided('copyInto', shape, [['d', dst]]);
    if (c === null) return;
    let temp: GPUStorage | null = null;
    if (sb.buffer === db.buffer) {
      // A dispatch may not bind one buffer as both writable and readable: read from a snapshot.
      temp = this.alloc(src.size, dt, 'copyInto');
      this.recorder.copy(sb.buffer, 0, temp.buf!, 0, src.size * 4);
      sb = this.bind('copyInto', 'src', temp);
    }
    this.run1d('copyInto', copyIntoKernel(c.rank, c.vec4), [db, sb], c.values);
    if (temp) this.free(temp);
  }

  /**
   * Validate views over outShape, collapse dims, and switch to vec4 units when every view allows
   * it (the output is contiguous and offset 0, so it only needs the shape to qualify). Null when
   * there is nothing to compute.
   */
  private strided(op: string, outShape: number[], views: [string, View][]) {
    checkShape(op, 'outShape', outShape);
    for (const [name, v] of views) checkView(op, name, v, outShape, v.storage.size);
    if (numel(outShape) === 0) return null;
    const collapsed = collapseDims(outShape, views.map(([, v]) => v as StridedView));
    const v4 = vec4Views(collapsed.shape, collapsed.views);
    const { shape, views: cv } = v4 ?? collapsed;
    const values = stridedValues(shape, cv.map((v, i) => ({ name: views[i][0], offset: v.offset, strides: v.strides })));
    return { rank: shape.length, vec4: v4 !== null, values };
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
    const dt = table.dtype;
    if (idx.dtype !== 'i32') throw new Error(`webgpu gather: idx must be i32, got ${idx.dtype}`);
    checkShape('gather', '[rows, cols]', [rows, cols]);
    if (table.size !== rows * cols) {
      throw new Error(`webgpu gather: table holds ${table.size} elements but [rows, cols] = [${rows}, ${cols}] needs ${rows * cols}`);
    }
    const tb = this.bind('gather', 'table', table), ib = this.bind('gather', 'idx', idx);
    const out = this.alloc(idx.size * cols, dt, 'gather');
    if (out.size === 0) return out;
    this.run1d('gather', gatherKernel(), [tb, ib, this.bind('gather', 'out', out)], { n: out.size, rows, cols });
    return out;
  }

  scatterAdd(src: Storage, idx: Storage, rows: number, cols: number): Storage {
    const dt = src.dtype;
    if (idx.dtype !== 'i32') throw new Error(`webgpu scatterAdd: idx must be i32, got ${idx.dtype}`);
    checkShape('scatterAdd', '[rows, cols]', [rows, cols]);
    if (src.size !== idx.size * cols) {
      throw new Error(`webgpu scatterAdd: src holds ${src.size} elements but idx [${idx.size}] × cols ${cols} needs ${idx.size * cols}`);
    }
    const sb = this.bind('scatterAdd', 'src', src), ib = this.bind('scatterAdd', 'idx', idx);
    const out = this.alloc(rows * cols, dt, 'scatterAdd');
    if (out.size === 0) return out;
    this.recorder.clear(out.buf!, out.size * 4);
    if (src.size === 0) return out;
    this.run1d('scatterAdd', scatterAddKernel(dt), [sb, ib, this.bind('scatterAdd', 'out', out)], { n: src.size, rows, cols });
    return out;
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
    for (const list of this.readbacks.values()) for (const rb of list) rb.destroy();
    this.readbacks.clear();
    this.recorder.dispose();
    if (this.ownsDevice) this.device.destroy();
  }
}
