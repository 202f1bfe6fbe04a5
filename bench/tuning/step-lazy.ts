// A LoRA SFT step eager vs lazy (engine/lazy.ts), on one model in one process: per phase
// (forward without a graph, forward + backward, clip + AdamW) the dispatches and the time until
// the GPU is done, steps alternating between the modes so drift hits both alike. The model setup
// is step-phases.ts's (SmolLM2-135M shape with LoRA; `quick`: 2 layers, vocab 512, batch 2×32).
//   here:  npx esbuild bench/tuning/step-lazy.ts --bundle --platform=node --format=esm \
//            --outfile=dist/step-lazy.js --external:webgpu
//          node dist/step-lazy.js quick            (SwiftShader: dispatch counts; times mean little)
//   there: source .gpu/remote-env.sh; node dist/step-lazy.js [quick] [steps]
import { noGrad } from '../../engine/autodiff.ts';
import { setMode, type ExecutionMode } from '../../engine/context.ts';
import { lazyCounters } from '../../engine/lazy.ts';
import { tidy } from '../../engine/memory.ts';
import { mul } from '../../engine/ops/index.ts';
import { clipGradNorm } from '../../engine/optim/clip.ts';
import { sftLoss } from '../../llm/train/sft.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { SMOLLM2_135M } from '../models.ts';
import { LORA, loraTrainee, randomBatch } from '../workloads/lora-sft.ts';

const quick = process.argv[2] === 'quick';
const steps = Number(process.argv[3] ?? 4);
const b = await createWebGPUBackend();
const c = quick ? { ...SMOLLM2_135M.config, numLayers: 2, vocabSize: 512 } : SMOLLM2_135M.config;
const B = quick ? 2 : 8, T = quick ? 32 : 512;
const { m, params, optimizer: opt } = loraTrainee(c, b);
console.log(`${b.description}, ${quick ? '2 layers, vocab 512' : 'SmolLM2-135M'}, batch ${B}×${T}, LoRA r=${LORA.r}`);

/** ms: until the GPU is done; host: recording alone (the WebGPU backend submits when synced). */
interface Phase { ms: number; host: number; dispatches: number; recorded: number; pipelines: number }

/** Run `fn` in `mode`, then wait for the GPU: total ms, dispatches, elementwise ops recorded lazily. */
async function phase(mode: ExecutionMode, fn: () => void): Promise<Phase> {
  await b.sync();
  const d0 = b.counters.dispatches, p0 = b.counters.pipelines, r0 = lazyCounters.recorded, t0 = performance.now();
  setMode(mode);
  try { fn(); } finally { setMode('eager'); }
  const host = performance.now() - t0;
  await b.sync();
  return {
    ms: performance.now() - t0, host, dispatches: b.counters.dispatches - d0, recorded: lazyCounters.recorded - r0, pipelines: b.counters.pipelines - p0,
  };
}

async function step(mode: ExecutionMode, i: number): Promise<Phase[]> {
  const batch = randomBatch(i + 1, B, T, c.vocabSize);
  const forward = await phase(mode, () => { noGrad(() => tidy(() => sftLoss(m, batch).lossSum)).dispose(); });
  const backward = await phase(mode, () => { tidy(() => mul(sftLoss(m, batch).lossSum, 1 / batch.lossTokens).backward()); });
  const optimizer = await phase(mode, () => { clipGradNorm(params, 1).dispose(); opt.step(); opt.zeroGrad(); });
  return [forward, backward, optimizer];
}

const fmt = (p: Phase) => `${p.ms.toFixed(1)} ms (host ${p.host.toFixed(1)}), ${p.dispatches} dispatches${p.recorded ? ` (${p.recorded} ops recorded)` : ''}` +
  (p.pipelines ? `, ${p.pipelines} new pipelines` : '');
const best: Record<ExecutionMode, number[]> = { eager: [], lazy: [] };
const hostMs: Record<ExecutionMode, number[]> = { eager: [], lazy: [] };
for (let i = 0; i < steps; i++) {
  for (const mode of ['eager', 'lazy'] as const) {
    const ph = await step(mode, i);
    const total = ph.reduce((s, p) => s + p.ms, 0);
    if (i > 0) { best[mode].push(total); hostMs[mode].push(ph.reduce((s, p) => s + p.host, 0)); }
    console.log(`step ${i} ${mode.padEnd(5)}${i === 0 ? ' (pipelines compile)' : ''}: forward ${fmt(ph[0])} | forward+backward ${fmt(ph[1])} | clip+AdamW ${fmt(ph[2])} | step ${total.toFixed(1)} ms`);
  }
}
if (steps > 1) {
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  console.log(`median step after the first: eager ${med(best.eager).toFixed(1)} ms (host ${med(hostMs.eager).toFixed(1)}), ` +
    `lazy ${med(best.lazy).toFixed(1)} ms (host ${med(hostMs.lazy).toFixed(1)})`);
}
b.destroy();
