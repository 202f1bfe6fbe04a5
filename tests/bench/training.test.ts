// The training benchmark (bench/training.ts) end to end at its quick size on the cpu backend: the
// LoRA SFT step runs, losses are finite, and the counts it reports are the workload's.
import { describe, expect, it } from 'vitest';
import { runTrainingBench } from '../../bench/training.ts';

describe('bench --suite training (quick, cpu)', () => {
  it('runs warm-up and timed LoRA SFT steps and reports throughput, peak bytes and phases', async () => {
    const json = await runTrainingBench({ quick: true, backend: 'cpu' });
    const [r] = json.results;
    expect(json.suite).toBe('training');
    expect([r.batch, r.seqLen, r.steps]).toEqual([2, 16, 2]);
    // r = 16 on q [64→64], k, v [64→32], o [64→64], 2 layers: 16·(128 + 96 + 96 + 128)·2.
    expect(r.trainableParams).toBe(16 * (128 + 96 + 96 + 128) * 2);
    expect(r.loss).toHaveLength(4);
    for (const l of r.loss) expect(Number.isFinite(l)).toBe(true);
    expect(r.tokensPerSecond).toBeGreaterThan(0);
    expect(r.peakLiveBytes).toBeGreaterThan(0);
    expect(r.phaseMs.forwardBackward).toBeGreaterThan(0);
  });
});
