// Reading a storage back to the host: copy into a MAP_READ buffer, submit, map. A few small
// readback buffers are kept per size (a loss per step); big ones are one-offs.
import type { PooledBuffer } from './pool.ts';
import type { Recorder } from './recorder.ts';

const MAP_READ = 0x01, COPY_DST = 0x08;

export class Readbacks {
  private readonly free = new Map<number, GPUBuffer[]>();

  constructor(private readonly device: GPUDevice, private readonly recorder: Recorder) {}

  /** The first `bytes` of buf, after every recorded command; `onMapError` reports pending device errors first. */
  async read(buf: PooledBuffer, bytes: number, onMapError: () => Promise<void>): Promise<ArrayBuffer> {
    if (bytes === 0) {
      this.recorder.flush();
      return new ArrayBuffer(0);
    }
    const rb = this.free.get(buf.bytes)?.pop() ?? this.device.createBuffer({ size: buf.bytes, usage: MAP_READ | COPY_DST });
    this.recorder.copy(buf, 0, rb, 0, bytes);
    this.recorder.flush();
    try {
      await rb.mapAsync(MAP_READ, 0, bytes);
    } catch (e) {
      await onMapError();
      throw new Error(`webgpu read: mapping the readback buffer failed: ${(e as Error).message}`);
    }
    const data = rb.getMappedRange(0, bytes).slice(0);
    rb.unmap();
    let list = this.free.get(buf.bytes);
    if (!list) this.free.set(buf.bytes, (list = []));
    if (buf.bytes <= 16 << 20 && list.length < 4) list.push(rb);
    else rb.destroy();
    return data;
  }

  destroy(): void {
    for (const list of this.free.values()) for (const rb of list) rb.destroy();
    this.free.clear();
  }
}
