// Size-bucketed pool of storage buffers. Freed buffers go straight back on their bucket's free
// list: GPU work runs in queue order, so a buffer freed after a recorded dispatch read it may be
// handed to the next dispatch at once. Buckets are powers of two up to 1 MiB, then quarter steps
// between powers of two (at most 25% slack), so a training step's allocations find their buffers
// again on the next step.

/** Storage buffers can be bound, copied from (readback, copy) and written (upload, clear). */
export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x04 /* COPY_SRC */ | 0x08 /* COPY_DST */;

/** Smallest bucket: also what a size-0 storage gets (a binding cannot be empty). */
export const MIN_BUCKET_BYTES = 256;

export function bucketBytes(bytes: number): number {
  const b = Math.max(bytes, MIN_BUCKET_BYTES);
  const p = 2 ** Math.ceil(Math.log2(b));
  if (p <= 1 << 20) return p;
  const step = p / 8; // b lies in (p/2, p]: round up to a multiple of p/8
  return Math.ceil(b / step) * step;
}

export interface PooledBuffer {
  /** Unique per GPUBuffer (bind group cache keys). */
  readonly id: number;
  readonly buffer: GPUBuffer;
  readonly bytes: number; // allocated size
  /** Recorder epoch of the last recorded command that used this buffer (see recorder.ts). */
  epoch: number;
}

export class BufferPool {
  private readonly free = new Map<number, PooledBuffer[]>();
  pooledBuffers = 0;
  pooledBytes = 0;
  private nextId = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Freed bytes kept for reuse (read at each release); beyond this, freed buffers are destroyed. */
    private readonly limitBytes: () => number,
    /** Destroys a buffer once no recorded-but-unsubmitted command uses it. */
    private readonly destroy: (b: PooledBuffer) => void,
  ) {}

  acquire(bytes: number): PooledBuffer {
    const maxBuffer = this.device.limits.maxBufferSize;
    if (bytes > maxBuffer) {
      throw new Error(`webgpu backend: a buffer of ${bytes} bytes exceeds this device's maxBufferSize (${maxBuffer})`);
    }
    let size = bucketBytes(bytes);
    if (size > maxBuffer) size = Math.max(MIN_BUCKET_BYTES, Math.ceil(bytes / 16) * 16);
    const list = this.free.get(size);
    const hit = list?.pop();
    if (hit) {
      this.pooledBuffers--;
      this.pooledBytes -= hit.bytes;
      return hit;
    }
    const buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE });
    return { id: this.nextId++, buffer, bytes: size, epoch: 0 };
  }

  release(b: PooledBuffer): void {
    if (this.pooledBytes + b.bytes > this.limitBytes()) {
      this.destroy(b);
      return;
    }
    let list = this.free.get(b.bytes);
    if (!list) this.free.set(b.bytes, (list = []));
    list.push(b);
    this.pooledBuffers++;
    this.pooledBytes += b.bytes;
  }

  /** Destroy every pooled buffer (memory pressure, shutdown). */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.pooledBuffers = 0;
    this.pooledBytes = 0;
  }
}
