// bench/timing.ts and the WebGPU GPU timer (backends/webgpu/timer.ts): spans over recorded passes
// give positive GPU times no longer than the wall clock around the same work; a span without a
// compute pass reads as null; without 'timestamp-query' measure() falls back to the wall clock.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { createBackend } from '../../backends/select.ts';
import type { WebGPUBackend } from '../../backends/webgpu/backend.ts';
import { measure, timingStats } from '../../bench/timing.ts';
import { matmul, tensor } from '../../engine/ops/index.ts';
import { randomValues } from '../../bench/workload.ts';

describe('timingStats', () => {
  it('gives median, extremes, mean and sample standard deviation', () => {
    const s = timingStats([4, 1, 3, 2]);
    expect(s).toEqual({ medianMs: 2.5, minMs: 1, maxMs: 4, meanMs: 2.5, stdevMs: Math.sqrt(5 / 3) });
    expect(() => timingStats([])).toThrow(/no samples/);
  });
});

const gpuWanted = !process.env.WGRAD_TEST_BACKENDS || process.env.WGRAD_TEST_BACKENDS.split(',').includes('webgpu');

describe.skipIf(!gpuWanted)('GPU timer (webgpu)', () => {
  const made: Backend[] = [];
  afterAll(() => { for (const b of made) b.destroy(); });
  const open = async (timestampQuery: boolean) => {
    const b = await createBackend({ backend: 'webgpu', timestampQuery });
    made.push(b);
    return b as WebGPUBackend & Backend;
  };

  it('times the passes recorded inside a span, and nothing outside', async () => {
    const b = await open(true);
    const timer = b.createTimer();
    expect(timer, 'SwiftShader and NVIDIA adapters have timestamp-query').not.toBeNull();
    const x = tensor(randomValues(96 * 96, 1), [96, 96], { backend: b });
    timer!.begin();
    timer!.end(); // empty span
    const t0 = performance.now();
    timer!.begin();
    for (let i = 0; i < 4; i++) matmul(x, x).dispose();
    timer!.end();
    await b.sync();
    const wall = performance.now() - t0;
    const [empty, work] = await timer!.read();
    expect(empty).toBeNull();
    expect(work).toBeGreaterThan(0);
    expect(work!).toBeLessThanOrEqual(wall);
    expect(() => timer!.end()).toThrow(/end\(\) without begin\(\)/);
    timer!.destroy();
    x.dispose();
  });

  it('measure() uses GPU timestamps when the device has them, else the wall clock', async () => {
    const plan = { warmup: 0, samples: 2, targetMs: 0, maxInner: 1 };
    for (const [ts, method] of [[true, 'gpu-timestamp'], [false, 'wall-clock']] as const) {
      const b = await open(ts);
      const probe = b.createTimer();
      expect(probe === null).toBe(!ts);
      probe?.destroy();
      // Large enough to outlast SwiftShader's timestamp resolution (a 0 ns span falls back to the wall clock).
      const x = tensor(randomValues(128 * 128, 2), [128, 128], { backend: b });
      const m = await measure(b, () => matmul(x, x).dispose(), plan);
      expect(m.method).toBe(method);
      expect(m.samplesMs).toHaveLength(2);
      for (const s of m.samplesMs) expect(s).toBeGreaterThan(0);
      x.dispose();
    }
  });
});
