// 20 LoRA SFT steps on stories260K (alpaca_tiny), eager and lazy (engine/lazy.ts), on cpu: the
// same losses and the same adapter. Lazy mode fuses elementwise chains (the SwiGLU gate, residual
// adds, gradient sums, dropout masks) into fewer kernels; on cpu a fused chain rounds to f32 once
// instead of after every op, so the runs agree to f32 rounding compounded over 20 optimizer steps,
// not bitwise: losses within 1e-5 relative, adapter values within 1e-4 (absolute, values ~1e-2).
import { afterEach, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining, type TrainSettings } from '../../llm/train/run.ts';
import * as w from '../../engine/index.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(MODEL, DATA);

const settings: TrainSettings = {
  data: asset(DATA), maxSteps: 20, batchSize: 2, gradAccum: 1, learningRate: 3e-3, schedule: 'cosine', warmupSteps: 2,
  seed: 3, maxLength: 160, lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj'] },
};

afterEach(() => w.setMode('eager'));

async function train(mode: 'eager' | 'lazy') {
  const backend = createCpuBackend();
  const tok = await loadTokenizer(asset(`${MODEL}/tokenizer.json`));
  const { model } = await loadLlama(asset(MODEL), { backend });
  const c0 = { ...w.lazyCounters };
  w.setMode(mode);
  const r = await runTraining(model, tok, settings);
  w.setMode('eager');
  const adapter: number[] = [];
  for (const l of r.lora!.values()) adapter.push(...await l.lora_A.data(), ...await l.lora_B.data());
  return {
    losses: r.records.map((x) => x.loss), adapter, live: backend.memoryStats().liveBuffers,
    recorded: w.lazyCounters.recorded - c0.recorded, kernels: w.lazyCounters.kernels - c0.kernels,
  };
}

describe.skipIf(!ok)('LoRA SFT on stories260K, lazy vs eager', () => {
  it('20 steps: the same losses and adapter; lazy runs fewer elementwise kernels', async () => {
    const eager = await train('eager');
    const lazy = await train('lazy');
    expect(eager.losses).toHaveLength(20);
    expect(eager.recorded).toBe(0);
    console.log(`lazy: ${lazy.recorded} elementwise ops recorded, run as ${lazy.kernels} kernels; ` +
      `max |Δloss| ${Math.max(...lazy.losses.map((l, i) => Math.abs(l - eager.losses[i]))).toExponential(2)}`);
    expect(lazy.kernels).toBeLessThan(lazy.recorded);
    lazy.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]), `step ${i + 1}: ${l} vs ${eager.losses[i]}`).toBeLessThanOrEqual(1e-5 * Math.abs(eager.losses[i])));
    expect(lazy.adapter.length).toBe(eager.adapter.length);
    const worst = Math.max(...lazy.adapter.map((v, i) => Math.abs(v - eager.adapter[i])));
    expect(worst).toBeLessThan(1e-4);
    // Lazy graphs hold no buffers once a run is over: the same live buffers as eager.
    expect(lazy.live).toBe(eager.live);
  }, 180_000);
});
