// Per-dispatch GPU time, for finding where a step's time goes (bench/tuning/step-profile.ts).
// While a profiler is attached, the recorder gives every dispatch its own compute pass with begin
// and end timestamps and the kernel's key as its label. Own passes cost a little (Dawn ends each
// with a barrier it would otherwise place only between dependent dispatches), so profiled totals
// run slightly above unprofiled ones; the split between kernels is what this is for.

/** WebGPU's largest query set. */
const QUERIES_PER_SET = 4096;

export interface DispatchSlot { querySet: GPUQuerySet; index: number }

export interface KernelTime { kernel: string; dispatches: number; ms: number }

export class DispatchProfiler {
  private readonly sets: GPUQuerySet[] = [];
  private readonly labels: string[] = [];

  constructor(private readonly device: GPUDevice) {}

  /** The begin slot for one dispatch of `kernel` (end = index + 1). */
  claim(kernel: string): DispatchSlot {
    const n = this.labels.length;
    const set = Math.floor((2 * n) / QUERIES_PER_SET);
    if (set === this.sets.length) this.sets.push(this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET }));
    this.labels.push(kernel);
    return { querySet: this.sets[set], index: (2 * n) % QUERIES_PER_SET };
  }

  get dispatches(): number {
    return this.labels.length;
  }

  /**
   * Milliseconds per dispatch, in order, with their kernel keys. `resolve` records the copies that
   * land each query set in a buffer (the recorder does it in order with the commands); call after
   * the profiled commands have been recorded and detached.
   */
  async read(resolve: (set: GPUQuerySet, count: number, dst: GPUBuffer) => void, flush: () => void): Promise<{ kernel: string; ms: number }[]> {
    const n = this.labels.length;
    const staging = this.device.createBuffer({ size: Math.max(8, 2 * n * 8), usage: 0x01 /* MAP_READ */ | 0x08 /* COPY_DST */ });
    const resolved: GPUBuffer[] = [];
    this.sets.forEach((set, i) => {
      const count = Math.min(QUERIES_PER_SET, 2 * n - i * QUERIES_PER_SET);
      const buf = this.device.createBuffer({ size: count * 8, usage: 0x0200 /* QUERY_RESOLVE */ | 0x04 /* COPY_SRC */ });
      resolve(set, count, buf);
      resolved.push(buf);
    });
    const enc = this.device.createCommandEncoder();
    resolved.forEach((buf, i) => enc.copyBufferToBuffer(buf, 0, staging, i * QUERIES_PER_SET * 8, buf.size));
    flush();
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(0x01 /* GPUMapMode.READ */);
    const ticks = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    for (const b of resolved) b.destroy();
    for (const s of this.sets) s.destroy();
    return this.labels.map((kernel, i) => ({ kernel, ms: Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6 }));
  }
}

/** Dispatch times summed per kernel key, or per family (the key up to its first ':'), largest first. */
export function byKernel(times: { kernel: string; ms: number }[], level: 'key' | 'family' = 'key'): KernelTime[] {
  const m = new Map<string, KernelTime>();
  for (const t of times) {
    const name = level === 'key' ? t.kernel : t.kernel.split(':')[0];
    const k = m.get(name) ?? { kernel: name, dispatches: 0, ms: 0 };
    k.dispatches++;
    k.ms += t.ms;
    m.set(name, k);
  }
  return [...m.values()].sort((a, b) => b.ms - a.ms);
}
