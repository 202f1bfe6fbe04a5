// 20 LoRA SFT steps on stories260K (alpaca_tiny), eager and lazy (engine/lazy.ts): bitwise the
// same losses and adapter. On cpu-f64 lazy mode fuses elementwise chains (the SwiGLU gate, residual
// adds, gradient sums, dropout masks) into fewer kernels, which compute the same float64 sequence;
// on cpu f32 it defers every op without fusing (engine/lazy.ts: that backend computes programs in
// float64 but stores f32), so the kernels are eager's. On WebGPU (opt-in below, slow on
// SwiftShader) it fuses and every node is f32 either way.
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
    recorded: w.lazyCounters.recorded - c0.recorded, kernels: w.lazyCounters.kernels - c0.kernels, inlined: w.lazyCounters.inlined - c0.inlined,
  };
}

// 20 steps on cpu and cpu-f64. On WebGPU only when WGRAD_LAZY_SFT_GPU_STEPS=N asks for it: on SwiftShader
// 3 steps per mode take ~130 s (the attention pipelines compile), too slow for the suite.
const gpuSteps = Number(process.env.WGRAD_LAZY_SFT_GPU_STEPS ?? 0);

for (const { name, get } of testBackends().filter((t) => t.name !== 'webgpu' || gpuSteps > 0)) {
  const steps = name === 'webgpu' ? gpuSteps : 20;
  const fuses = name !== 'cpu';
  describe.skipIf(!ok)(`LoRA SFT on stories260K, lazy vs eager, on ${name}`, () => {
    it(`${steps} steps: bitwise the same losses and adapter${fuses ? ', in fewer elementwise kernels' : ''}`, async () => {
      // cpu: a fresh backend per run; WebGPU: one device, whose scalar-constant cache the first run fills.
      const eager = await train('eager', await get(), steps);
      const lazy = await train('lazy', await get(), steps);
      expect(eager.losses).toHaveLength(steps);
      expect(eager.recorded).toBe(0);
      const dLoss = Math.max(...lazy.losses.map((l, i) => Math.abs(l - eager.losses[i])));
      const dAdapter = Math.max(...lazy.adapter.map((v, i) => Math.abs(v - eager.adapter[i])));
      console.log(`${name}, ${steps} steps: ${lazy.recorded} elementwise ops recorded lazily, run as ${lazy.kernels} kernels; ` +
        `max |Δloss| ${dLoss.toExponential(2)}, max |Δadapter| ${dAdapter.toExponential(2)}`);
      if (fuses) expect(lazy.kernels).toBeLessThan(lazy.recorded);
      else expect(lazy.inlined).toBe(0);
      expect(lazy.losses).toEqual(eager.losses);
      expect(lazy.adapter).toEqual(eager.adapter);
      // Lazy graphs hold no buffers once a run is over: a run leaves no more live buffers than eager's.
      if (name !== 'webgpu') expect(lazy.left).toBe(eager.left);
      else expect(lazy.left).toBeLessThanOrEqual(eager.left);
    }, name === 'webgpu' ? 600_000 : 300_000);
  });
}
