// Where a LoRA SFT step's time goes: for each phase (forward without a graph, forward + backward,
// clip + AdamW), the host time to record it, the total until the GPU is done, its dispatches and
// its peak of live bytes (the backend's peak, reset before the phase; weights and optimizer state
// included). The step is the Trainer's: backward with freeGraph, the clip scale on the device
// handed to the multi-tensor AdamW.
// Record ≈ total means the host is the bottleneck; a small record with a large total, the GPU.
//   here:  npx esbuild bench/tuning/step-phases.ts --bundle --platform=node --format=esm \
//            --outfile=dist/step-phases.js --external:webgpu
//   there: source .gpu/remote-env.sh; node dist/step-phases.js [quick] [POOL_GiB]
//          (add --cpu-prof --cpu-prof-dir=$OUT after `node` for a profile of the host side)
import { backward, noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { mul } from '../../engine/ops/index.ts';
import { gradNormScale } from '../../engine/optim/clip.ts';
import { sftLoss } from '../../llm/train/sft.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { SMOLLM2_135M } from '../models.ts';
import { loraTrainee, randomBatch } from '../workloads/lora-sft.ts';

const quick = process.argv[2] === 'quick';
const poolGiB = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const b = await createWebGPUBackend({ poolLimitBytes: poolGiB === undefined ? undefined : poolGiB * 2 ** 30 });
const c = quick ? { ...SMOLLM2_135M.config, numLayers: 2, vocabSize: 512 } : SMOLLM2_135M.config;
const B = quick ? 2 : 8, T = quick ? 32 : 512;
const { m, params, optimizer: opt } = loraTrainee(c, b);
console.log(`${b.description}, pool limit ${poolGiB === undefined ? 'default' : `${poolGiB} GiB`}, batch ${B}×${T}`);

/** Record `fn`, then wait for the GPU: record ms, total ms, dispatches (and pipelines compiled), peak GB. */
async function phase(fn: () => Promise<void> | void): Promise<string> {
  await b.sync();
  b.resetPeakMemory();
  const d0 = b.counters.dispatches, p0 = b.counters.pipelines, t0 = performance.now();
  const pending = fn();
  const t1 = performance.now();
  await pending;
  await b.sync();
  const t2 = performance.now();
  const compiled = b.counters.pipelines - p0;
  return `record ${(t1 - t0).toFixed(0)} / total ${(t2 - t0).toFixed(0)} ms, ${b.counters.dispatches - d0} dispatches, ` +
    `peak ${(b.memoryStats().peakLiveBytes / 1e9).toFixed(3)} GB` +
    (compiled ? `, ${compiled} new pipelines` : '');
}

for (let i = 0; i < 4; i++) {
  const batch = randomBatch(i + 1, B, T, c.vocabSize);
  const forward = await phase(() => { noGrad(() => tidy(() => sftLoss(m, batch).lossSum)).dispose(); });
  const fwdBwd = await phase(() => { tidy(() => backward(mul(sftLoss(m, batch).lossSum, 1 / batch.lossTokens), null, { freeGraph: true })); });
  const optimizer = await phase(() => {
    const { norm, scale } = gradNormScale(params, 1);
    opt.step(scale);
    opt.zeroGrad();
    norm.dispose(); scale.dispose();
  });
  console.log(`step ${i}${i === 0 ? ' (pipelines compile)' : ''}: forward ${forward} | forward+backward ${fwdBwd} | clip+AdamW ${optimizer}`);
}
b.destroy();
