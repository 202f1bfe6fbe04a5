// The WebGPU backend: Backend primitives as WGSL dispatches recorded into batched command buffers.
// Storage = one pooled GPUBuffer holding `size` 32-bit elements. Everything except read() returns
// at once; work reaches the GPU when a value is read, on sync(), or every `maxPendingDispatches`.
import type {
  AdamWParams, AttentionParams, Backend, BinaryOp, DType, GrpoObjectiveParams, MatmulParams, MemoryStats, ReduceOp, RopeStyle, SampleParams, Storage, UnaryOp, View,
} from '../backend.ts';
import { adamwScalars, checkAdamW, checkAttention, checkLoraLinear, checkGrpoObjective, checkRope, checkSample, checkTokenLogprobs } from '../backend.ts';
import { attentionBackwardWords, attentionDeltaKernel, attentionDkDvKernel, attentionDqKernel } from '../../kernels/attention-backward.ts';
import { chooseTiles } from '../../kernels/attention-common.ts';
import { attentionForwardKernel, attentionForwardWords } from '../../kernels/attention-forward.ts';
import { adamwKernel } from '../../kernels/adamw.ts';
import { argmaxKernel } from '../../kernels/argmax.ts';
import { BINARY_F32, binaryKernel } from '../../kernels/binary.ts';
import { copyIntoKernel, copyKernel, fillKernel } from '../../kernels/copy.ts';
import { gatherKernel, scatterAddKernel } from '../../kernels/gather.ts';
import { logsumexpKernel } from '../../kernels/logsumexp.ts';
import { loraLinearKernel, type LoraLinearKernel } from '../../kernels/lora-linear.ts';
import { matmulDispatch, matmulKernel, type MatmulKernel, matmulUniform } from '../../kernels/matmul.ts';
import { REDUCE_THREADS, reduceKernel, reduceTileX } from '../../kernels/reduce.ts';
import { rmsNormKernel } from '../../kernels/rmsnorm.ts';
import { ropeKernel } from '../../kernels/rope.ts';
import { rowWorkgroupSize } from '../../kernels/rowstats.ts';
import { softmaxKernel } from '../../kernels/softmax.ts';
import { swigluKernel } from '../../kernels/swiglu.ts';
import { grpoObjectiveBackwardKernel, grpoObjectiveKernel } from '../../kernels/grpo-objective.ts';
import { sampleKernel } from '../../kernels/sample.ts';
import { tokenLogprobsBackwardKernel, tokenLogprobsKernel } from '../../kernels/token-logprobs.ts';
import { UNARY_F32, unaryKernel, unaryOutDType } from '../../kernels/unary.ts';
import { whereKernel } from '../../kernels/where.ts';
import { type Kernel, stridedValues } from '../../kernels/wgsl.ts';
import type { AcquiredDevice, AdapterInfo } from './device.ts';
import { foldGrid, MAX_WORKGROUPS_PER_DIM } from './grid.ts';
import { PipelineCache } from './pipelines.ts';
import { BufferPool, type PooledBuffer } from './pool.ts';
import { Recorder, type StorageBinding } from './recorder.ts';
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

type Scalar32 = 'f32' | 'i32';

/** Elements of r each workgroup covers per pass: ≤ 64 per thread while the GPU still has idle cores. */
function reduceChunk(r: number, ty: number, parallelWorkgroups: number): number {
  const perThread = parallelWorkgroups < 2048 ? 64 : 512;
  return Math.min(r, ty * perThread);
}

/** Uniform words of an optional ignoreIndex (the kernels compare its i32 bit pattern). */
function ignoreWords(ignoreIndex: number | null): { ignore: number; hasIgnore: number } {
  return { ignore: ignoreIndex ?? 0, hasIgnore: ignoreIndex === null ? 0 : 1 };
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly precision = 'f32' as const;
  readonly description: string;
  readonly device: GPUDevice;
  readonly features: ReadonlySet<string>;
  readonly runtime: AcquiredDevice['runtime'];
  readonly adapterInfo: AdapterInfo;

  private readonly pool: BufferPool;
  private readonly recorder: Recorder;
  private readonly pipelines: PipelineCache;
  private readonly maxDim: number;
  private readonly matmulKernels = new Map<string, MatmulKernel>();
  private readonly loraKernels = new Map<string, LoraLinearKernel | null>();
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
    this.ownsDevice = acq.ownsDevice;
    this.description = `webgpu (${acq.adapterName}; ${acq.runtime})`;
    this.maxDim = Math.min(
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

  private alloc(size: number, dtype: DType, op: string): GPUStorage {
    this.alive(op);
    if (dtype !== 'f32' && dtype !== 'i32') {
      throw new Error(`webgpu ${op}: dtype ${dtype} is not supported yet (f32 and i32 are)`);
    }
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

  private binding(op: string, field: string, s: Storage): StorageBinding {
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

  private scalar(op: string, field: string, s: Storage): Scalar32 {
    if (s.dtype !== 'f32' && s.dtype !== 'i32') throw new Error(`webgpu ${op}: ${field} dtype ${s.dtype} is not supported yet`);
    return s.dtype;
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
    else this.run1d('fill', fillKernel(), [this.binding('fill', 'out', out)], { n: size, bits });
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
    const dt = this.scalar(`unary ${op}`, 'x', x);
    const xb = this.binding(`unary ${op}`, 'x', x);
    const out = this.alloc(x.size, unaryOutDType(op, dt), `unary ${op}`);
    if (x.size === 0) return out;
    const vec4 = x.size % 4 === 0;
    this.run1d(`unary ${op}`, unaryKernel(op, dt, vec4), [xb, this.binding('unary', 'out', out)], { n: vec4 ? x.size / 4 : x.size });
    return out;
  }

  binary(op: BinaryOp, a: View, b: View, outShape: number[]): Storage {
    const name = `binary ${op}`;
    if (!(op in BINARY_F32)) throw new Error(`webgpu binary: unknown op '${op}' (one of ${Object.keys(BINARY_F32).join(', ')})`);
    const dt = this.scalar(name, 'a', a.storage);
    if (b.storage.dtype !== dt) {
      throw new Error(`webgpu ${name}: a is ${dt} but b is ${b.storage.dtype}; cast one first`);
    }
    const [ab, bb] = [this.binding(name, 'a', a.storage), this.binding(name, 'b', b.storage)];
    const c = this.strided(name, outShape, [['a', a], ['b', b]]);
    const out = this.alloc(numel(outShape), dt, name);
    if (c === null) return out;
    this.run1d(name, binaryKernel(op, dt, c.rank, c.vec4), [ab, bb, this.binding(name, 'out', out)], c.values);
    return out;
  }

  where(cond: View, a: View, b: View, outShape: number[]): Storage {
    const cdt = this.scalar('where', 'cond', cond.storage);
    const dt = this.scalar('where', 'a', a.storage);
    if (b.storage.dtype !== dt) throw new Error(`webgpu where: a is ${dt} but b is ${b.storage.dtype}`);
    const bindings = [
      this.binding('where', 'cond', cond.storage), this.binding('where', 'a', a.storage), this.binding('where', 'b', b.storage),
    ];
    const c = this.strided('where', outShape, [['c', cond], ['a', a], ['b', b]]);
    const out = this.alloc(numel(outShape), dt, 'where');
    if (c === null) return out;
    this.run1d('where', whereKernel(cdt, c.rank, c.vec4), [...bindings, this.binding('where', 'out', out)], c.values);
    return out;
  }

  copy(src: View, outShape: number[]): Storage {
    const dt = this.scalar('copy', 'src', src.storage);
    const sb = this.binding('copy', 'src', src.storage);
    const c = this.strided('copy', outShape, [['s', src]]);
    const out = this.alloc(numel(outShape), dt, 'copy');
    if (c === null) return out;
    // Contiguous views too: on an H200 the kernel copies at ~2x copyBufferToBuffer's rate, and it
    // keeps the compute pass open.
    this.run1d('copy', copyKernel(c.rank, c.vec4), [sb, this.binding('copy', 'out', out)], c.values);
    return out;
  }

  copyInto(dst: View, src: Storage, shape: number[]): void {
    const dt = this.scalar('copyInto', 'dst', dst.storage);
    if (src.dtype !== dt) throw new Error(`webgpu copyInto: dst is ${dt} but src is ${src.dtype}`);
    if (src.size !== numel(shape)) {
      throw new Error(`webgpu copyInto: src holds ${src.size} elements but shape [${shape.join(', ')}] has ${numel(shape)}`);
    }
    const db = this.binding('copyInto', 'dst', dst.storage);
    let sb = this.binding('copyInto', 'src', src);
    const c = this.strided('copyInto', shape, [['d', dst]]);
    if (c === null) return;
    let temp: GPUStorage | null = null;
    if (sb.buffer === db.buffer) {
      // A dispatch may not bind one buffer as both writable and readable: read from a snapshot.
      temp = this.alloc(src.size, dt, 'copyInto');
      this.recorder.copy(sb.buffer, 0, temp.buf!, 0, src.size * 4);
      sb = this.binding('copyInto', 'src', temp);
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

  // ---- reductions ----------------------------------------------------------------------------

  private checkOuterRInner(op: string, x: Storage, outer: number, r: number, inner: number): void {
    checkShape(op, '[outer, r, inner]', [outer, r, inner]);
    if (outer * r * inner !== x.size) {
      throw new Error(`webgpu ${op}: x holds ${x.size} elements but [outer, r, inner] = [${outer}, ${r}, ${inner}] needs ${outer * r * inner}`);
    }
  }

  reduce(op: ReduceOp, x: Storage, outer: number, r: number, inner: number): Storage {
    const name = `reduce ${op}`;
    if (op !== 'sum' && op !== 'max' && op !== 'min') throw new Error(`webgpu reduce: unknown op '${op}' (sum, max, min)`);
    const dt = this.scalar(name, 'x', x);
    this.buf(name, 'x', x);
    this.checkOuterRInner(name, x, outer, r, inner);
    if (outer * inner === 0) return this.alloc(0, dt, name);
    if (r === 0) {
      // The cpu backend's empty reductions: 0, -inf, +inf (i32 storage turns ±inf into 0).
      const v = op === 'sum' || dt === 'i32' ? 0 : op === 'max' ? -Infinity : Infinity;
      return this.fill(outer * inner, v, dt);
    }
    const tx = reduceTileX(inner), ty = REDUCE_THREADS / tx;
    const colBlocks = Math.ceil(inner / tx);
    let cur = x as GPUStorage, curR = r;
    for (;;) {
      // Rows of whole vec4s (inner = 1) are read 16 bytes at a time; r and chunk then count vec4s.
      const vec4 = inner === 1 && curR % 4 === 0;
      const units = vec4 ? curR / 4 : curR;
      const chunk = reduceChunk(units, ty, outer * colBlocks);
      const groups = Math.ceil(units / chunk);
      const out = this.alloc(outer * groups * inner, dt, name);
      this.runGrid(name, reduceKernel(op, dt, tx, vec4), [this.binding(name, 'x', cur), this.binding(name, 'out', out)],
        { outer, r: units, inner, chunk, groups, colBlocks }, outer * groups * colBlocks);
      if (cur !== x) this.free(cur);
      if (groups === 1) return out;
      cur = out;
      curR = groups;
    }
  }

  argmax(x: Storage, outer: number, r: number, inner: number): Storage {
    const dt = this.scalar('argmax', 'x', x);
    this.buf('argmax', 'x', x);
    this.checkOuterRInner('argmax', x, outer, r, inner);
    if (outer * inner === 0 || r === 0) return this.fill(outer * inner, 0, 'i32');
    const tx = reduceTileX(inner), ty = REDUCE_THREADS / tx;
    const colBlocks = Math.ceil(inner / tx);
    let vals = x as GPUStorage, idx: GPUStorage | null = null, curR = r;
    for (;;) {
      const vec4 = idx === null && inner === 1 && curR % 4 === 0; // first pass over whole vec4 rows
      const units = vec4 ? curR / 4 : curR;
      const chunk = reduceChunk(units, ty, outer * colBlocks);
      const groups = Math.ceil(units / chunk);
      const partial = groups > 1;
      const outIdx = this.alloc(outer * groups * inner, 'i32', 'argmax');
      const outVal = partial ? this.alloc(outer * groups * inner, dt, 'argmax') : null;
      const bindings = [this.binding('argmax', 'x', vals)];
      if (idx) bindings.push(this.binding('argmax', 'idx', idx));
      bindings.push(this.binding('argmax', 'out', outIdx));
      if (outVal) bindings.push(this.binding('argmax', 'vals', outVal));
      this.runGrid('argmax', argmaxKernel(dt, tx, { pairs: idx !== null, partial, vec4 }), bindings,
        { outer, r: units, inner, chunk, groups, colBlocks }, outer * groups * colBlocks);
      if (vals !== x) this.free(vals);
      if (idx) this.free(idx);
      if (!outVal) return outIdx;
      vals = outVal;
      idx = outIdx;
      curR = groups;
    }
  }

  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage {
    const name = log ? 'logSoftmax' : 'softmax';
    this.checkRows(name, x, rows, cols);
    const xb = this.binding(name, 'x', x);
    const out = this.alloc(rows * cols, 'f32', name);
    if (rows * cols === 0) return out;
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    this.runGrid(name, softmaxKernel(log, rowWorkgroupSize(units), vec4), [xb, this.binding(name, 'out', out)], { rows, cols: units }, rows);
    return out;
  }

  logsumexp(x: Storage, rows: number, cols: number): Storage {
    this.checkRows('logsumexp', x, rows, cols);
    const xb = this.binding('logsumexp', 'x', x);
    if (cols === 0) return this.fill(rows, -Infinity, 'f32');
    const out = this.alloc(rows, 'f32', 'logsumexp');
    if (rows === 0) return out;
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    this.runGrid('logsumexp', logsumexpKernel(rowWorkgroupSize(units), vec4), [xb, this.binding('logsumexp', 'out', out)], { rows, cols: units }, rows);
    return out;
  }

  sampleTokens(logits: Storage, uniforms: Storage, rows: number, cols: number, p: SampleParams): Storage {
    const op = 'sampleTokens';
    checkSample(logits, uniforms, rows, cols, p);
    const out = this.alloc(rows, 'i32', op);
    if (rows === 0) return out;
    const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
    this.runGrid(op, sampleKernel(rowWorkgroupSize(cols)),
      [this.binding(op, 'logits', logits), this.binding(op, 'uniforms', uniforms), this.binding(op, 'out', out)],
      { rows, V: cols, invTemp: bits(p.temperature > 0 ? 1 / p.temperature : 0), greedy: p.temperature > 0 ? 0 : 1, topK: p.topK, topP: bits(p.topP) }, rows);
    return out;
  }

  grpoObjective(logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null,
    p: GrpoObjectiveParams): { loss: Storage; stats: Storage } {
    const op = 'grpoObjective';
    checkGrpoObjective(op, { logp, old, ref, adv, mask, emask }, p);
    const loss = this.alloc(p.B * p.T, 'f32', op), stats = this.alloc(p.B * p.T * 3, 'f32', op);
    if (p.B * p.T === 0) return { loss, stats };
    this.runGrid(op, grpoObjectiveKernel(rowWorkgroupSize(p.T)),
      [...this.grpoBindings(op, logp, old, ref, adv, mask, emask), this.binding(op, 'loss', loss), this.binding(op, 'stats', stats)], grpoWords(p, emask), p.B);
    return { loss, stats };
  }

  grpoObjectiveBackward(logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null,
    grad: Storage, p: GrpoObjectiveParams): Storage {
    const op = 'grpoObjectiveBackward';
    checkGrpoObjective(op, { logp, old, ref, adv, mask, emask, grad }, p);
    const out = this.alloc(p.B * p.T, 'f32', op);
    if (p.B * p.T === 0) return out;
    this.runGrid(op, grpoObjectiveBackwardKernel(rowWorkgroupSize(p.T)),
      [...this.grpoBindings(op, logp, old, ref, adv, mask, emask), this.binding(op, 'grad', grad), this.binding(op, 'out', out)], grpoWords(p, emask), p.B);
    return out;
  }

  /** The six inputs; an absent ref/emask binds logp in their place (the kernel does not read it). */
  private grpoBindings(op: string, logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null): StorageBinding[] {
    return [this.binding(op, 'logp', logp), this.binding(op, 'old', old), this.binding(op, 'ref', ref ?? logp), this.binding(op, 'adv', adv),
      this.binding(op, 'mask', mask), this.binding(op, 'emask', emask ?? logp)];
  }

  tokenLogprobs(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number | null): { logp: Storage; lse: Storage } {
    const op = 'tokenLogprobs';
    checkTokenLogprobs(`webgpu ${op}`, logits, targets, rows, cols, ignoreIndex);
    const xb = this.binding(op, 'logits', logits), tb = this.binding(op, 'targets', targets);
    const logp = this.alloc(rows, 'f32', op), lse = this.alloc(rows, 'f32', op);
    if (rows === 0) return { logp, lse };
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    this.runGrid(op, tokenLogprobsKernel(rowWorkgroupSize(units), vec4),
      [xb, tb, this.binding(op, 'logp', logp), this.binding(op, 'lse', lse)],
      { rows, cols: units, vocab: cols, ...ignoreWords(ignoreIndex) }, rows);
    return { logp, lse };
  }

  tokenLogprobsBackward(logits: Storage, targets: Storage, lse: Storage, gradLogp: Storage, rows: number, cols: number,
    ignoreIndex: number | null): Storage {
    const op = 'tokenLogprobsBackward';
    checkTokenLogprobs(`webgpu ${op}`, logits, targets, rows, cols, ignoreIndex, [['lse', lse], ['gradLogp', gradLogp]]);
    const bindings = [
      this.binding(op, 'logits', logits), this.binding(op, 'targets', targets), this.binding(op, 'lse', lse), this.binding(op, 'gradLogp', gradLogp),
    ];
    const out = this.alloc(rows * cols, 'f32', op);
    if (out.size === 0) return out;
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    this.run1d(op, tokenLogprobsBackwardKernel(vec4), [...bindings, this.binding(op, 'out', out)],
      { n: rows * units, cols: units, vocab: cols, ...ignoreWords(ignoreIndex) });
    return out;
  }

  // ---- fused transformer ops -------------------------------------------------------------------

  rmsNorm(x: Storage, weight: Storage | null, rows: number, cols: number, eps: number): Storage {
    this.checkRows('rmsNorm', x, rows, cols);
    const bindings = [this.binding('rmsNorm', 'x', x)];
    if (weight) {
      if (weight.dtype !== 'f32' || weight.size !== cols) {
        throw new Error(`webgpu rmsNorm: weight must be f32 [${cols}], got ${weight.dtype} [${weight.size}]`);
      }
      bindings.push(this.binding('rmsNorm', 'weight', weight));
    }
    const out = this.alloc(rows * cols, 'f32', 'rmsNorm');
    if (rows * cols === 0) return out;
    bindings.push(this.binding('rmsNorm', 'out', out));
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    const epsBits = new Uint32Array(new Float32Array([eps]).buffer)[0];
    this.runGrid('rmsNorm', rmsNormKernel(rowWorkgroupSize(units), weight !== null, vec4), bindings,
      { rows, cols: units, n: cols, eps: epsBits }, rows);
    return out;
  }

  rope(x: Storage, cos: Storage, sin: Storage, rows: number, T: number, D: number, rotaryDim: number,
    style: RopeStyle, tableBlocks = 1): Storage {
    if (style !== 'half' && style !== 'interleaved') throw new Error(`webgpu rope: unknown style '${style}' (half, interleaved)`);
    for (const [f, s] of [['x', x], ['cos', cos], ['sin', sin]] as const) {
      if (s.dtype !== 'f32') throw new Error(`webgpu rope: ${f} must be f32, got ${s.dtype}`);
    }
    checkRope(x.size, cos.size, sin.size, rows, T, D, rotaryDim, tableBlocks);
    const bindings = [this.binding('rope', 'x', x), this.binding('rope', 'cos', cos), this.binding('rope', 'sin', sin)];
    const out = this.alloc(x.size, 'f32', 'rope');
    if (x.size === 0) return out;
    bindings.push(this.binding('rope', 'out', out));
    this.run1d('rope', ropeKernel(style), bindings, { n: x.size, T, D, rd: rotaryDim, perBlock: rows / tableBlocks });
    return out;
  }

  swiglu(gate: Storage, up: Storage): Storage {
    if (gate.dtype !== 'f32' || up.dtype !== 'f32' || gate.size !== up.size) {
      throw new Error(`webgpu swiglu: gate and up must be f32 of one size, got ${gate.dtype} [${gate.size}] and ${up.dtype} [${up.size}]`);
    }
    const gb = this.binding('swiglu', 'gate', gate), ub = this.binding('swiglu', 'up', up);
    const out = this.alloc(gate.size, 'f32', 'swiglu');
    if (gate.size === 0) return out;
    const vec4 = gate.size % 4 === 0;
    this.run1d('swiglu', swigluKernel(vec4), [gb, ub, this.binding('swiglu', 'out', out)], { n: vec4 ? gate.size / 4 : gate.size });
    return out;
  }

  adamw(p: Storage, g: Storage, m: Storage, v: Storage, o: AdamWParams): void {
    const bindings = [this.binding('adamw', 'p', p), this.binding('adamw', 'g', g), this.binding('adamw', 'm', m), this.binding('adamw', 'v', v)];
    checkAdamW(p, g, m, v, o);
    // Distinct storages own distinct pool buffers; a dispatch may not bind one buffer twice when writable.
    if (new Set(bindings.map((b) => b.buffer)).size !== 4) throw new Error('webgpu adamw: p, g, m and v must be four distinct buffers');
    if (p.size === 0) return;
    const { decay, stepSize, sqrtC2 } = adamwScalars(o);
    const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
    const vec4 = p.size % 4 === 0;
    // Dispatches run in recording order, each seeing the writes of the ones before (as copyInto).
    this.run1d('adamw', adamwKernel(vec4), bindings, {
      n: vec4 ? p.size / 4 : p.size, decay: bits(decay), stepSize: bits(stepSize), b1: bits(o.beta1), omb1: bits(1 - o.beta1),
      b2: bits(o.beta2), omb2: bits(1 - o.beta2), eps: bits(o.eps), sqrtC2: bits(sqrtC2),
    });
  }

  // ---- fused attention (kernels/attention-*.ts) -------------------------------------------------

  /** Uniform values of the tiled attention kernels for `blocks` tiles per (b, head) over `heads`. */
  private attentionValues(p: AttentionParams, blocks: number, heads: number): Record<string, number> {
    const scale = new Uint32Array(new Float32Array([p.scale]).buffer)[0];
    return { B: p.B, H: p.H, KV: p.KV, T: p.T, S: p.S, past: p.past, scale, blocks, total: p.B * heads * blocks };
  }

  private checkHeadDim(op: string, D: number): void {
    if (D > 256) throw new Error(`webgpu ${op}: head dim D = ${D} is over the 256 the kernels support`);
  }

  attentionForward(q: Storage, k: Storage, v: Storage, segQ: Storage | null, segK: Storage | null,
    p: AttentionParams): { out: Storage; lse: Storage } {
    const op = 'attentionForward';
    checkAttention(op, p, { q, k, v, segQ, segK });
    this.checkHeadDim(op, p.D);
    const bindings = [this.binding(op, 'q', q), this.binding(op, 'k', k), this.binding(op, 'v', v)];
    if (segQ && segK) bindings.push(this.binding(op, 'segQ', segQ), this.binding(op, 'segK', segK));
    const out = this.alloc(q.size, 'f32', op), lse = this.alloc(p.B * p.H * p.T, 'f32', op);
    if (lse.size === 0) return { out, lse };
    const limit = this.device.limits.maxComputeWorkgroupStorageSize;
    const tiles = chooseTiles((r, c) => attentionForwardWords(p.D, r, c), limit, p.T, op);
    const blocks = Math.ceil(p.T / tiles.rows);
    bindings.push(this.binding(op, 'out', out), this.binding(op, 'lse', lse));
    this.runGrid(op, attentionForwardKernel(p.D, tiles, segQ !== null), bindings, this.attentionValues(p, blocks, p.H), p.B * p.H * blocks);
    return { out, lse };
  }

  attentionBackward(q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, dOut: Storage,
    segQ: Storage | null, segK: Storage | null, p: AttentionParams): { dq: Storage; dk: Storage; dv: Storage } {
    const op = 'attentionBackward';
    checkAttention(op, p, { q, k, v, out, lse, dOut, segQ, segK });
    this.checkHeadDim(op, p.D);
    const ins = [this.binding(op, 'q', q), this.binding(op, 'k', k), this.binding(op, 'v', v), this.binding(op, 'dOut', dOut)];
    const ob = this.binding(op, 'out', out), lb = this.binding(op, 'lse', lse);
    const segs = segQ && segK ? [this.binding(op, 'segQ', segQ), this.binding(op, 'segK', segK)] : [];
    const dq = this.alloc(q.size, 'f32', op), dk = this.alloc(k.size, 'f32', op), dv = this.alloc(v.size, 'f32', op);
    if (q.size === 0 || k.size === 0) { // no queries or no keys: every gradient is 0
      for (const g of [dq, dk, dv]) if (g.size > 0) this.recorder.clear(g.buf!, g.size * 4);
      return { dq, dk, dv };
    }
    const rows = p.B * p.H * p.T;
    const delta = this.alloc(rows, 'f32', op);
    this.run1d(op, attentionDeltaKernel(p.D), [ob, ins[3], this.binding(op, 'delta', delta)], { n: rows });
    const common = [...ins, lb, this.binding(op, 'delta', delta), ...segs];
    const limit = this.device.limits.maxComputeWorkgroupStorageSize;
    const words = (r: number, c: number) => attentionBackwardWords(p.D, r, c);
    const kvTiles = chooseTiles(words, limit, p.S, op);
    const kBlocks = Math.ceil(p.S / kvTiles.rows);
    this.runGrid(op, attentionDkDvKernel(p.D, kvTiles, segs.length > 0),
      [...common, this.binding(op, 'dk', dk), this.binding(op, 'dv', dv)], this.attentionValues(p, kBlocks, p.KV), p.B * p.KV * kBlocks);
    const qTiles = chooseTiles(words, limit, p.T, op);
    const qBlocks = Math.ceil(p.T / qTiles.rows);
    this.runGrid(op, attentionDqKernel(p.D, qTiles, segs.length > 0),
      [...common, this.binding(op, 'dq', dq)], this.attentionValues(p, qBlocks, p.H), p.B * p.H * qBlocks);
    this.free(delta);
    return { dq, dk, dv };
  }

  private checkRows(op: string, x: Storage, rows: number, cols: number): void {
    if (x.dtype !== 'f32') throw new Error(`webgpu ${op}: x must be f32, got ${x.dtype}`);
    checkShape(op, '[rows, cols]', [rows, cols]);
    if (rows * cols !== x.size) {
      throw new Error(`webgpu ${op}: x holds ${x.size} elements but [rows, cols] = [${rows}, ${cols}] needs ${rows * cols}`);
    }
  }

  // ---- matmul, gather, scatter ----------------------------------------------------------------

  matmul(a: Storage, b: Storage, p: MatmulParams): Storage {
    const { batch, m, n, k } = p;
    checkShape('matmul', '[batch, m, n, k]', [batch, m, n, k]);
    checkShape('matmul', '[aBatchStride, bBatchStride]', [p.aBatchStride, p.bBatchStride]);
    if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error(`webgpu matmul: f32 only, got a ${a.dtype}, b ${b.dtype}`);
    const need = (stride: number, rows: number, cols: number) => (batch === 0 ? 0 : (batch - 1) * stride + rows * cols);
    const aNeed = need(p.aBatchStride, m, k), bNeed = need(p.bBatchStride, k, n);
    if (a.size < aNeed || b.size < bNeed) {
      throw new Error(
        `webgpu matmul: batch ${batch} of [${m}, ${k}]·[${k}, ${n}] (transA ${p.transA}, transB ${p.transB}, batch strides ` +
          `${p.aBatchStride}/${p.bBatchStride}) needs a ≥ ${aNeed} and b ≥ ${bNeed} elements, got ${a.size} and ${b.size}`,
      );
    }
    const ab = this.binding('matmul', 'a', a), bb = this.binding('matmul', 'b', b);
    const out = this.alloc(batch * m * n, 'f32', 'matmul');
    if (out.size === 0) return out;
    const mk = this.matmulKernelFor(p);
    const [gx, gy] = matmulDispatch(mk, m, n, 1);
    if (gx > this.maxDim || gy > this.maxDim) {
      throw new Error(`webgpu matmul: [${m}, ${n}] output needs ${gy}×${gx} tiles, over the ${this.maxDim} workgroups per dimension limit`);
    }
    const entry = this.pipelines.get(mk.key, mk.code);
    const cb = this.binding('matmul', 'out', out);
    // The z dimension counts batches: more than maxDim of them go in several dispatches.
    for (let b0 = 0; b0 < batch; b0 += this.maxDim) {
      const count = Math.min(this.maxDim, batch - b0);
      const u = matmulUniform({ m, n, k, aBatchStride: p.aBatchStride, bBatchStride: p.bBatchStride, batchOffset: b0 });
      this.recorder.dispatch(entry, [ab, bb, cb], u, matmulDispatch(mk, m, n, count));
    }
    return out;
  }

  /** The shape-specialised kernel (kernels/matmul.ts picks tiles, vec4, bounds tests), memoised per shape. */
  private matmulKernelFor(p: MatmulParams): MatmulKernel {
    const sig = `${+p.transA}${+p.transB}:${p.batch}:${p.m}:${p.n}:${p.k}:${p.aBatchStride}:${p.bBatchStride}`;
    let mk = this.matmulKernels.get(sig);
    if (!mk) {
      if (this.matmulKernels.size >= 4096) this.matmulKernels.clear(); // many shapes (growing sequences)
      mk = matmulKernel({ ...p, maxWorkgroupStorage: this.device.limits.maxComputeWorkgroupStorageSize });
      this.matmulKernels.set(sig, mk);
    }
    return mk;
  }

  loraLinear(x: Storage, w: Storage, bias: Storage | null, a: Storage, b: Storage, scale: number,
    M: number, N: number, K: number, r: number): { y: Storage; xa: Storage } {
    checkLoraLinear(x, w, bias, a, b, scale, M, N, K, r);
    const op = 'loraLinear';
    const bindings = [this.binding(op, 'x', x), this.binding(op, 'w', w)];
    const lb = [this.binding(op, 'a', a), this.binding(op, 'b', b)];
    const biasB = bias ? this.binding(op, 'bias', bias) : null;
    // N = 0 still owes xa, which only N-tile 0 writes: no tiles, so take the unfused path.
    const mk = N === 0 || M === 0 ? null : this.loraKernelFor(M, N, K, r, bias !== null);
    if (!mk) return this.loraLinearUnfused(x, w, bias, a, b, scale, M, N, K, r);
    const [gx, gy] = matmulDispatch(mk, M, N, 1);
    if (gx > this.maxDim || gy > this.maxDim) {
      throw new Error(`webgpu loraLinear: [${M}, ${N}] output needs ${gy}×${gx} tiles, over the ${this.maxDim} workgroups per dimension limit`);
    }
    const y = this.alloc(M * N, 'f32', op), xa = this.alloc(M * r, 'f32', op);
    bindings.push(this.binding(op, 'y', y), ...lb, this.binding(op, 'xa', xa));
    if (biasB) bindings.push(biasB);
    const u = matmulUniform({ m: M, n: N, k: K, aBatchStride: 0, bBatchStride: 0, batchOffset: 0 });
    u[6] = r;
    u[7] = new Uint32Array(new Float32Array([scale]).buffer)[0];
    this.recorder.dispatch(this.pipelines.get(mk.key, mk.code), bindings, u, [gx, gy, 1]);
    return { y, xa };
  }

  /** The fused kernel for a shape, or null where kernels/lora-linear.ts says fusing does not pay. */
  private loraKernelFor(M: number, N: number, K: number, r: number, bias: boolean): LoraLinearKernel | null {
    const sig = `${M}:${N}:${K}:${r}:${+bias}`;
    if (!this.loraKernels.has(sig)) {
      if (this.loraKernels.size >= 4096) this.loraKernels.clear();
      this.loraKernels.set(sig, loraLinearKernel({ m: M, n: N, k: K, r, bias, maxWorkgroupStorage: this.device.limits.maxComputeWorkgroupStorageSize }));
    }
    return this.loraKernels.get(sig)!;
  }

  /** x·wᵀ + bias + scale·(x·aᵀ)·bᵀ as separate products (large r, or N = 0). */
  private loraLinearUnfused(x: Storage, w: Storage, bias: Storage | null, a: Storage, b: Storage, scale: number,
    M: number, N: number, K: number, r: number): { y: Storage; xa: Storage } {
    const mm = (p: Storage, q: Storage, m: number, n: number, k: number) =>
      this.matmul(p, q, { batch: 1, m, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 });
    const xa = mm(x, a, M, r, K);
    const base = mm(x, w, M, N, K), low = mm(xa, b, M, N, r);
    const s = this.upload([scale], 'f32');
    const full = (st: Storage): View => ({ storage: st, offset: 0, strides: [N, 1] });
    const scaled = this.binary('mul', full(low), { storage: s, offset: 0, strides: [0, 0] }, [M, N]);
    let y = this.binary('add', full(base), full(scaled), [M, N]);
    for (const t of [s, low, scaled, base]) this.free(t);
    if (bias) {
      const yb = this.binary('add', full(y), { storage: bias, offset: 0, strides: [0, 1] }, [M, N]);
      this.free(y);
      y = yb;
    }
    return { y, xa };
  }

  gather(table: Storage, idx: Storage, rows: number, cols: number): Storage {
    const dt = this.scalar('gather', 'table', table);
    if (idx.dtype !== 'i32') throw new Error(`webgpu gather: idx must be i32, got ${idx.dtype}`);
    checkShape('gather', '[rows, cols]', [rows, cols]);
    if (table.size !== rows * cols) {
      throw new Error(`webgpu gather: table holds ${table.size} elements but [rows, cols] = [${rows}, ${cols}] needs ${rows * cols}`);
    }
    const tb = this.binding('gather', 'table', table), ib = this.binding('gather', 'idx', idx);
    const out = this.alloc(idx.size * cols, dt, 'gather');
    if (out.size === 0) return out;
    this.run1d('gather', gatherKernel(), [tb, ib, this.binding('gather', 'out', out)], { n: out.size, rows, cols });
    return out;
  }

  scatterAdd(src: Storage, idx: Storage, rows: number, cols: number): Storage {
    const dt = this.scalar('scatterAdd', 'src', src);
    if (idx.dtype !== 'i32') throw new Error(`webgpu scatterAdd: idx must be i32, got ${idx.dtype}`);
    checkShape('scatterAdd', '[rows, cols]', [rows, cols]);
    if (src.size !== idx.size * cols) {
      throw new Error(`webgpu scatterAdd: src holds ${src.size} elements but idx [${idx.size}] × cols ${cols} needs ${idx.size * cols}`);
    }
    const sb = this.binding('scatterAdd', 'src', src), ib = this.binding('scatterAdd', 'idx', idx);
    const out = this.alloc(rows * cols, dt, 'scatterAdd');
    if (out.size === 0) return out;
    this.recorder.clear(out.buf!, out.size * 4);
    if (src.size === 0) return out;
    this.run1d('scatterAdd', scatterAddKernel(dt), [sb, ib, this.binding('scatterAdd', 'out', out)], { n: src.size, rows, cols });
    return out;
  }

  // ---- dispatch ------------------------------------------------------------------------------

  /** One thread per element: ceil(n / workgroupSize) workgroups. */
  private run1d(op: string, kernel: Kernel, bindings: StorageBinding[], values: Record<string, number>): void {
    this.runGrid(op, kernel, bindings, values, Math.ceil(values.n / kernel.workgroupSize));
  }

  private runGrid(op: string, kernel: Kernel, bindings: StorageBinding[], values: Record<string, number>, workgroups: number): void {
    this.alive(op);
    const u = new Uint32Array(kernel.params.length);
    kernel.params.forEach((p, i) => {
      const v = values[p];
      if (v === undefined) throw new Error(`webgpu ${op}: kernel ${kernel.key} needs parameter '${p}'`);
      u[i] = v >>> 0;
    });
    const entry = this.pipelines.get(kernel.key, kernel.code);
    const [x, y] = foldGrid(workgroups, this.maxDim);
    this.recorder.dispatch(entry, bindings, u, [x, y, 1]);
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

/** Uniform words of the GRPO objective kernels (floats as f32 bit patterns). */
function grpoWords(p: GrpoObjectiveParams, emask: Storage | null): Record<string, number> {
  const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
  return {
    B: p.B, T: p.T, sequence: p.sequence ? 1 : 0, cispo: p.cispo ? 1 : 0, epsLow: bits(p.epsLow), epsHigh: bits(p.epsHigh),
    delta: bits(p.delta ?? 0), hasDelta: p.delta === null ? 0 : 1, beta: bits(p.beta), hasEmask: emask ? 1 : 0,
  };
}
