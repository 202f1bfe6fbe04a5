// GRPO's sampling phase in isolation: 64 sequences decoded by a LoRA-wrapped SmolLM2-135M-shaped
// model (the `grpo` training workload's policy: random weights, LoRA r16 on q/k/v/o), three ways:
//   unfused  — decodeFusion off, adapters not merged, ids read every step (the path before session 5)
//   fused    — adapters merged, the fused block (row-blocked GEMV for 64 rows), ids read every step
//   fused-k8 — the same, ids read every 8 steps (generate()'s default)
// (1) one decode step recorded by hand per path: dispatches and host recording time (the synchronous
//     part of forward + sampling; the GPU is drained before each step); (2) generate() wall time.
//   here:  npx esbuild bench/tuning/decode-grpo.ts --bundle --platform=node --format=esm \
//            --outfile=dist/decode-grpo.js --external:webgpu
//          node dist/decode-grpo.js quick [record] [B]   (SwiftShader: 2 layers, vocab 4096, prompt 8, 4 tokens; one pass)
//   there: source .gpu/remote-env.sh; node dist/decode-grpo.js full   (30 layers, prompt 128, 256 tokens)
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { reshape, sampleTokens, tensor } from '../../engine/ops/index.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { generate } from '../../llm/generate/generate.ts';
import { decodeFusion, MergedAdapters } from '../../llm/models/llama/decode.ts';
import { KVCache } from '../../llm/models/llama/kv-cache.ts';
import { randomInts } from '../workload.ts';
import { SMOLLM2_135M } from '../models.ts';
import { loraTrainee } from '../workloads/lora-sft.ts';

const quick = process.argv[2] !== 'full';
/** `record`: only part (1). */
const recordOnly = process.argv[3] === 'record';
const b = await createWebGPUBackend();
const c = quick ? { ...SMOLLM2_135M.config, numLayers: 2, vocabSize: 4096 } : SMOLLM2_135M.config;
const B = Number(process.argv[4] ?? 64), P = quick ? 8 : 128, N = quick ? 4 : 256;
const { m } = loraTrainee(c, b);
const ids = randomInts(B * P, 11, c.vocabSize);
const prompts = Array.from({ length: B }, (_, i) => Array.from(ids.subarray(i * P, (i + 1) * P)));
console.log(`${b.description}; ${c.numLayers} layers, vocab ${c.vocabSize}, ${B} sequences, prompt ${P}, ${N} new tokens, LoRA r16 q/k/v/o`);

/** Decode steps by hand (greedy ids fed back): per step after the prefill, dispatches and host ms. */
async function recordSteps(fused: boolean, steps: number): Promise<{ dispatches: number; hostMs: number }> {
  decodeFusion.enabled = fused;
  const merged = fused ? MergedAdapters.of(m.model.layers) : null;
  const cache = new KVCache(c.numLayers, { capacity: P + steps });
  let x = tensor(Int32Array.from(prompts.flat()), [B, P], { dtype: 'i32', backend: b });
  const host: number[] = [], disp: number[] = [], pipes: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      await b.sync();
      const d0 = b.counters.dispatches, p0 = b.counters.pipelines, t0 = performance.now();
      const next = noGrad(() => tidy(() => {
        const logits = m.forward(x, { cache, lastOnly: true, merged });
        return sampleTokens(reshape(logits, [B, c.vocabSize]), tensor(new Array<number>(B).fill(0), [B], { backend: b }), { temperature: 0, topK: 0, topP: 1 });
      }));
      host.push(performance.now() - t0);
      disp.push(b.counters.dispatches - d0);
      pipes.push(b.counters.pipelines - p0);
      x.dispose();
      x = reshape(next, [B, 1]);
      next.dispose();
    }
  } finally {
    x.dispose(); cache.dispose(); merged?.dispose();
    decodeFusion.enabled = true;
  }
  // Steps 2.. (0 is the prefill, 1 may still compile pipelines): the fastest.
  console.log(`  host ms per step ${host.map((h) => h.toFixed(1)).join(' ')}; new pipelines ${pipes.join(' ')}`);
  return { dispatches: disp[steps - 1], hostMs: Math.min(...host.slice(2)) };
}

for (const fused of [false, true]) {
  await recordSteps(fused, 3); // compile
  const r = await recordSteps(fused, quick ? 6 : 12);
  console.log(`${fused ? 'fused (merged)' : 'unfused'}: ${r.dispatches} dispatches per decode step, host recording ${r.hostMs.toFixed(2)} ms`);
}

const modes = [
  { name: 'unfused', fusion: false, opts: { mergeAdapters: false, checkEvery: 1 } },
  { name: 'fused', fusion: true, opts: { checkEvery: 1 } },
  { name: 'fused-k8', fusion: true, opts: { checkEvery: 8 } },
];
for (let rep = recordOnly ? 2 : quick ? 1 : 0; rep < 2; rep++) {
  for (const mode of modes) {
    decodeFusion.enabled = mode.fusion;
    await b.sync();
    const t0 = performance.now();
    const out = await generate(m, prompts, { maxNewTokens: N, temperature: 1, seed: 3, ...mode.opts });
    const ms = performance.now() - t0;
    decodeFusion.enabled = true;
    if (rep > 0 || quick) console.log(`generate ${mode.name}: ${ms.toFixed(0)} ms, ${(B * N / (ms / 1000)).toFixed(0)} tok/s (${out[0].length} tokens per sequence)`);
  }
}
m.dispose();
b.destroy();
