// Records GPU commands into one command encoder and submits them in batches.
//
// Ordering is the whole point of this file. queue.writeBuffer executes at once on the queue timeline,
// i.e. BEFORE any command still sitting in an unsubmitted encoder. So:
//   - uniform parameters are packed into a CPU mirror of a per-flush uniform arena and written to
//     the GPU just before the encoder that reads them is submitted (slots are never rewritten
//     while their commands are pending);
//   - an upload goes through queue.writeBuffer only when no pending command uses the target buffer
//     (tracked by epochs); otherwise it is copied from a mapped-at-creation staging buffer by the
//     encoder, in order with the dispatches around it;
//   - buffers that pending commands use are destroyed only after the submit.
// Dispatches share one compute pass (WebGPU orders dispatches that touch the same buffer); copies
// and clears end it. Bind groups are cached by (pipeline, buffers, sizes, arena chunk): the uniform
// slot is a dynamic offset, so a loop over the same buffers creates no new bind groups.
import type { PipelineEntry } from './pipelines.ts';
import type { PooledBuffer } from './pool.ts';
import type { DispatchProfiler } from './profiler.ts';

/** Bytes per uniform arena chunk; slots are minUniformBufferOffsetAlignment (256) apart. */
const UNIFORM_CHUNK_BYTES = 64 * 1024;
/** Cached bind groups before the cache starts over (a training step reuses far fewer). */
const MAX_BIND_GROUPS = 16384;

interface UniformChunk {
  buffer: GPUBuffer;
  mirror: Uint8Array;
  used: number;
}

export interface StorageBinding {
  buffer: PooledBuffer;
  /** Bytes bound from offset 0 (a multiple of 16, ≥ 16). */
  size: number;
}

/** Where timed compute passes write their timestamps: claim() gives the begin slot (end = +1), or undefined when full. */
export interface TimestampSink {
  readonly querySet: GPUQuerySet;
  claim(): number | undefined;
}

export class Recorder {
  /** Bumped at every submit; a buffer whose epoch equals it is used by a pending command. */
  epoch = 1;
  readonly counters = { dispatches: 0, copies: 0, submits: 0, uploadsDirect: 0, uploadsStaged: 0 };
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private readonly chunks: UniformChunk[] = [];
  private chunkIndex = 0;
  private doomed: GPUBuffer[] = [];
  private readonly align: number;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private timing: TimestampSink | null = null;
  private profiler: DispatchProfiler | null = null;

  constructor(private readonly device: GPUDevice, private readonly maxPending: number) {
    this.align = device.limits.minUniformBufferOffsetAlignment;
  }

  get pendingCommands(): number {
    return this.pending;
  }

  dispatch(entry: PipelineEntry, storages: StorageBinding[], uniform: Uint32Array | null, grid: [number, number, number]): void {
    const expected = entry.bindings.length - (uniform ? 1 : 0);
    if (storages.length !== expected || (uniform !== null) !== (entry.bindings[expected] === 'uniform')) {
      throw new Error(`webgpu backend: kernel '${entry.key}' declares ${entry.bindings.length} bindings, got ${storages.length} buffers${uniform ? ' and a uniform block' : ''}`);
    }
    let key = `${entry.id}`;
    for (const s of storages) {
      s.buffer.epoch = this.epoch;
      key += `|${s.buffer.id}:${s.size}`;
    }
    const u = uniform ? this.stageUniform(uniform) : null;
    if (u) key += `|u${u.chunk}:${u.size}`;
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      const entries: GPUBindGroupEntry[] = storages.map((s, i) => ({ binding: i, resource: { buffer: s.buffer.buffer, offset: 0, size: s.size } }));
      if (u) entries.push({ binding: storages.length, resource: { buffer: u.buffer, offset: 0, size: u.size } });
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      bindGroup = this.device.createBindGroup({ layout: entry.layout, entries });
      this.bindGroups.set(key, bindGroup);
    }
    if (this.profiler) {
      // A pass of its own, timed (profiler.ts).
      this.endPass();
      const slot = this.profiler.claim(entry.key);
      this.pass = this.commandEncoder().beginComputePass({
        timestampWrites: { querySet: slot.querySet, beginningOfPassWriteIndex: slot.index, endOfPassWriteIndex: slot.index + 1 },
      });
    }
    const pass = this.computePass();
    pass.setPipeline(entry.pipeline);
    if (u) pass.setBindGroup(0, bindGroup, [u.offset]);
    else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.profiler) this.endPass();
    this.counters.dispatches++;
    this.bump();
  }

  copy(src: PooledBuffer | GPUBuffer, srcOffset: number, dst: PooledBuffer | GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    const enc = this.commandEncoder();
    this.endPass();
    enc.copyBufferToBuffer(this.gpuBuffer(src), srcOffset, this.gpuBuffer(dst), dstOffset, bytes);
    this.counters.copies++;
    this.bump();
  }

  clear(dst: PooledBuffer, bytes: number): void {
    if (bytes === 0) return;
    const enc = this.commandEncoder();
    this.endPass();
    dst.epoch = this.epoch;
    enc.clearBuffer(dst.buffer, 0, bytes);
    this.counters.copies++;
    this.bump();
  }

  upload(dst: PooledBuffer, data: Float32Array | Int32Array): void {
    const bytes = data.byteLength;
    if (bytes === 0) return;
    if (dst.epoch !== this.epoch) {
      // No unsubmitted command touches dst, so writing it "now" cannot be seen out of order.
      this.device.queue.writeBuffer(dst.buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, bytes);
      this.counters.uploadsDirect++;
      return;
    }
    const staging = this.device.createBuffer({ size: bytes, usage: 0x04 /* COPY_SRC */, mappedAtCreation: true });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, bytes));
    staging.unmap();
    this.copy(staging, 0, dst, 0, bytes);
    this.doomed.push(staging);
    this.counters.uploadsStaged++;
  }

  /** Destroy now, or after the next submit if a pending command may use it. */
  destroyWhenIdle(b: PooledBuffer): void {
    this.bindGroups.clear(); // some may name b; rare (pool overflow, teardown), so drop them all
    if (b.epoch === this.epoch && this.encoder) this.doomed.push(b.buffer);
    else b.buffer.destroy();
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    for (let i = 0; i <= this.chunkIndex && i < this.chunks.length; i++) {
      const c = this.chunks[i];
      if (c.used > 0) this.device.queue.writeBuffer(c.buffer, 0, c.mirror.buffer as ArrayBuffer, 0, c.used);
      c.used = 0;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.pending = 0;
    this.chunkIndex = 0;
    this.epoch++;
    this.counters.submits++;
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
  }

  /**
   * Every compute pass opened from now until the sink is cleared writes its begin and end
   * timestamps into the sink's query set (two slots per pass; the sink counts them). The open pass
   * is ended first so that no earlier dispatch is timed.
   */
  setTimestampSink(sink: TimestampSink | null): void {
    this.endPass();
    this.timing = sink;
  }

  /** Give every dispatch from now on its own timed pass (null: stop). */
  setProfiler(profiler: DispatchProfiler | null): void {
    this.endPass();
    this.profiler = profiler;
  }

  /** Resolve query slots [0, count) into dst (QUERY_RESOLVE, 8 bytes each), in order with the commands. */
  resolveQueries(querySet: GPUQuerySet, count: number, dst: GPUBuffer): void {
    if (count === 0) return;
    const enc = this.commandEncoder();
    this.endPass();
    enc.resolveQuerySet(querySet, 0, count, dst, 0);
    this.bump();
  }

  /** Drop the uniform arena (device teardown). */
  dispose(): void {
    this.pass = null;
    this.encoder = null;
    for (const c of this.chunks) c.buffer.destroy();
    this.chunks.length = 0;
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
    this.bindGroups.clear();
  }

  private gpuBuffer(b: PooledBuffer | GPUBuffer): GPUBuffer {
    if ('epoch' in b) {
      b.epoch = this.epoch;
      return b.buffer;
    }
    return b;
  }

  private stageUniform(words: Uint32Array): { buffer: GPUBuffer; chunk: number; offset: number; size: number } {
    const bytes = words.byteLength;
    const slot = Math.ceil(bytes / this.align) * this.align;
    if (slot > UNIFORM_CHUNK_BYTES) throw new Error(`webgpu backend: ${bytes} bytes of kernel parameters exceed a uniform chunk`);
    let c = this.chunks[this.chunkIndex];
    if (c && c.used + slot > UNIFORM_CHUNK_BYTES) c = this.chunks[++this.chunkIndex];
    if (!c) {
      c = {
        buffer: this.device.createBuffer({ size: UNIFORM_CHUNK_BYTES, usage: 0x40 /* UNIFORM */ | 0x08 /* COPY_DST */ }),
        mirror: new Uint8Array(UNIFORM_CHUNK_BYTES),
        used: 0,
      };
      this.chunks[this.chunkIndex] = c;
    }
    const offset = c.used;
    c.mirror.set(new Uint8Array(words.buffer, words.byteOffset, bytes), offset);
    c.used += slot;
    return { buffer: c.buffer, chunk: this.chunkIndex, offset, size: Math.ceil(bytes / 16) * 16 };
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const enc = this.commandEncoder();
    const slot = this.timing?.claim();
    this.pass = slot === undefined
      ? enc.beginComputePass()
      : enc.beginComputePass({ timestampWrites: { querySet: this.timing!.querySet, beginningOfPassWriteIndex: slot, endOfPassWriteIndex: slot + 1 } });
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private bump(): void {
    if (++this.pending >= this.maxPending) this.flush();
  }
}
