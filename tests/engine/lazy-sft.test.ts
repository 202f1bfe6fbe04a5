// 20 LoRA SFT steps on stories260K (alpaca_tiny), eager and lazy (engine/lazy.ts), on cpu: the
// same losses and the same adapter. Lazy mode fuses elementwise chains (the SwiGLU gate, residual
// adds, gradient sums, dropout masks) into fewer kernels; on cpu a fused chain rounds to f32 once
// instead of after every op, so the runs agree to f32 rounding compounded over 20 optimizer steps,
// not bitwise: losses within 1e-5 relative, adapter values within 1e-4 (absolute, values ~1e-2).
// On WebGPU every node is f32 either way: 3 steps on SwiftShader gave bitwise equal losses and adapter.
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining, type TrainSettings } from '../../llm/train/run.ts';
import * as w from '../../engine/index.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';
import { testBackends } from '../setup/backends.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(MODEL, DATA);

const settings: TrainSettings = {
  data: asset(DATA), maxSteps: 20, batchSize: 2, gradAccum: 1, learningRate: 3e-3, schedule: 'cosine', warmupSteps: 2,
  seed: 3, maxLength: 160, lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj'] },
};

afterEach(() => w.setMode('eager'));

async function train(mode: 'eager' | 'lazy', backend: Backend, maxSteps: number) {
  const tok = await loadTokenizer(asset(`${MODEL}/tokenizer.json`));
  const { model } = await loadLlama(asset(MODEL), { backend });
  const live0 = backend.memoryStats().liveBuffers, c0 = { ...w.lazyCounters };
  w.setMode(mode);
  const r = await runTraining(model, tok, { ...settings, maxSteps });
  w.setMode('eager');
  const adapter: number[] = [];
  for (const l of r.lora!.values()) adapter.push(...await l.lora_A.data(), ...await l.lora_B.data());
  model.dispose();
  return {
    losses: r.records.map((x) => x.loss), adapter, left: backend.memoryStats().liveBuffers - live0,
    recorded: w.lazyCounters.recorded - c0.recorded, kernels: w.lazyCounters.kernels - c0.kernels,
  };
}

// 20 steps on cpu. On WebGPU only when WGRAD_LAZY_SFT_GPU_STEPS=N asks for it: on SwiftShader
// 3 steps per mode take ~130 s (the attention pipelines compile), too slow for the suite.
const gpuSteps = Number(process.env.WGRAD_LAZY_SFT_GPU_STEPS ?? 0);

for (const { name, get } of testBackends().filter((t) => t.name === 'cpu' || (t.name === 'webgpu' && gpuSteps > 0))) {
  const steps = name === 'cpu' ? 20 : gpuSteps;
  describe.skipIf(!ok)(`LoRA SFT on stories260K, lazy vs eager, on ${name}`, () => {
    it(`${steps} steps: the same losses and adapter; lazy runs fewer elementwise kernels`, async () => {
      // cpu: a fresh backend per run; WebGPU: one device, whose scalar-constant cache the first run fills.
      const eager = await train('eager', await get(), steps);
      const lazy = await train('lazy', await get(), steps);
      expect(eager.losses).toHaveLength(steps);
      expect(eager.recorded).toBe(0);
      const dLoss = Math.max(...lazy.losses.map((l, i) => Math.abs(l - eager.losses[i])));
      const dAdapter = Math.max(...lazy.adapter.map((v, i) => Math.abs(v - eager.adapter[i])));
      console.log(`${name}, ${steps} steps: ${lazy.recorded} elementwise ops recorded lazily, run as ${lazy.kernels} kernels; ` +
        `max |Δloss| ${dLoss.toExponential(2)}, max |Δadapter| ${dAdapter.toExponential(2)}`);
      expect(lazy.kernels).toBeLessThan(lazy.recorded);
      lazy.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]), `step ${i + 1}: ${l} vs ${eager.losses[i]}`).toBeLessThanOrEqual(1e-5 * Math.abs(eager.losses[i])));
      expect(lazy.adapter.length).toBe(eager.adapter.length);
      expect(dAdapter).toBeLessThan(1e-4);
      // Lazy graphs hold no buffers once a run is over: a run leaves no more live buffers than eager's.
      if (name === 'cpu') expect(lazy.left).toBe(eager.left);
      else expect(lazy.left).toBeLessThanOrEqual(eager.left);
    }, name === 'cpu' ? 180_000 : 600_000);
  });
}
