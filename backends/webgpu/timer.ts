// GPU timers from timestamp queries, for benchmarks. A span covers the compute passes the recorder
// opens between begin() and end(); its length is the last pass's end timestamp minus the first
// pass's begin timestamp, so copies and clears between those passes count, and so does any GPU idle
// time while the host records the next submit (a host-bound workload is not hidden). Copies outside
// any compute pass are not timed on their own: a span without a compute pass reads as null.
import type { Recorder, TimestampSink } from './recorder.ts';

interface Span { first: number; end: number; overflow: boolean }

export class GpuTimer implements TimestampSink {
  readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly capacity: number; // query slots (two per pass)
  private next = 0;
  private open: Span | null = null;
  private spans: Span[] = [];
  private destroyed = false;

  constructor(private readonly device: GPUDevice, private readonly recorder: Recorder, maxPasses: number) {
    if (!Number.isInteger(maxPasses) || maxPasses < 1) throw new Error(`GpuTimer: maxPasses ${maxPasses} must be a positive integer`);
    // 4096 is WebGPU's maximum query set size.
    this.capacity = Math.min(2 * maxPasses, 4096);
    this.querySet = device.createQuerySet({ type: 'timestamp', count: this.capacity });
    this.resolveBuffer = device.createBuffer({ size: this.capacity * 8, usage: 0x0200 /* QUERY_RESOLVE */ | 0x04 /* COPY_SRC */ });
  }

  /** Start a span: compute passes recorded from now on are timed. */
  begin(): void {
    if (this.destroyed) throw new Error('GpuTimer: used after destroy()');
    if (this.open) throw new Error('GpuTimer: begin() while a span is open (call end() first)');
    this.open = { first: this.next, end: this.next, overflow: false };
    this.recorder.setTimestampSink(this);
  }

  /** End the span opened by begin(). */
  end(): void {
    if (!this.open) throw new Error('GpuTimer: end() without begin()');
    this.recorder.setTimestampSink(null);
    this.open.end = this.next;
    this.spans.push(this.open);
    this.open = null;
  }

  claim(): number | undefined {
    if (this.next + 2 > this.capacity) {
      if (this.open) this.open.overflow = true;
      return undefined;
    }
    const slot = this.next;
    this.next += 2;
    return slot;
  }

  /**
   * Milliseconds of every span since the last read, in order; null for a span that opened no
   * compute pass or ran out of query slots (time those by wall clock). Submits pending work.
   */
  async read(): Promise<(number | null)[]> {
    if (this.open) throw new Error('GpuTimer: read() while a span is open');
    const spans = this.spans;
    const used = this.next;
    this.spans = [];
    this.next = 0;
    if (used === 0) return spans.map(() => null);
    const staging = this.device.createBuffer({ size: used * 8, usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
    this.recorder.resolveQueries(this.querySet, used, this.resolveBuffer);
    this.recorder.copy(this.resolveBuffer, 0, staging, 0, used * 8);
    this.recorder.flush();
    await staging.mapAsync(0x01 /* GPUMapMode.READ */);
    const ticks = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return spans.map((s) => {
      if (s.overflow || s.end === s.first) return null;
      const ns = Number(ticks[s.end - 1] - ticks[s.first]);
      // Timestamps that did not advance (quantised away, or unsupported by the driver) are no measurement.
      return ns > 0 ? ns / 1e6 : null;
    });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.open) this.recorder.setTimestampSink(null);
    this.querySet.destroy();
    this.resolveBuffer.destroy();
  }
}
