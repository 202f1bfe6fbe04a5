// Generation throughput: prompt 128 tokens, 128 new tokens, batch 1 and 16, greedy, on a
// random-weight model with SmolLM2-135M's shape (quick: a tiny shape). Compare with
// bench/reference/hf_generate.py on the same GPU.
import { writeFileSync } from 'node:fs';
import type { Backend } from '../backends/backend.ts';
import { createBackend, type BackendChoice } from '../backends/select.ts';
import { generate } from '../engine/generate/generate.ts';
import type { LlamaConfig } from '../engine/models/llama/config.ts';
import { LlamaForCausalLM } from '../engine/models/llama/model.ts';
import { randomInit } from '../engine/models/llama/init.ts';
import { Generator } from '../engine/random.ts';

export const smollm135m: LlamaConfig = {
  hiddenSize: 576, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536,
  vocabSize: 49152, ropeTheta: 100000, rmsNormEps: 1e-5, tieWordEmbeddings: true, attentionBias: false,
  maxPositions: 2048, eosTokenIds: [],
};

const tiny: LlamaConfig = { ...smollm135m, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 256 };

export interface GenerationResult {
  batch: number; promptTokens: number; newTokens: number; seconds: number; tokensPerSecond: number;
}

export async function runGenerationBench(opts: { quick?: boolean; out?: string; backend?: string }) {
  const backend: Backend = await createBackend({ backend: opts.backend as BackendChoice | undefined });
  const config = opts.quick ? tiny : smollm135m;
  const prompt = opts.quick ? 8 : 128, newTokens = opts.quick ? 8 : 128;
  const batches = opts.quick ? [1, 4] : [1, 16];
  try {
    const model = new LlamaForCausalLM(config, { backend });
    randomInit(model, 0);
    const g = new Generator(1);
    const results: GenerationResult[] = [];
    for (const batch of batches) {
      const prompts = Array.from({ length: batch }, () => Array.from({ length: prompt }, () => Math.floor(g.uniform() * config.vocabSize)));
      await generate(model, prompts.map((p) => p.slice(0, 8)), { maxNewTokens: 2 }); // warm up pipelines
      const t0 = performance.now();
      const out = await generate(model, prompts, { maxNewTokens: newTokens });
      const seconds = (performance.now() - t0) / 1000;
      const n = out.reduce((s, o) => s + o.length, 0);
      const r = { batch, promptTokens: prompt, newTokens, seconds, tokensPerSecond: n / seconds };
      results.push(r);
      console.log(`generation batch ${batch}: ${n} tokens in ${seconds.toFixed(2)} s → ${r.tokensPerSecond.toFixed(1)} tokens/s (${backend.description})`);
    }
    model.dispose();
    const json = { suite: 'generation', runtime: `node ${process.versions.node}`, backend: backend.name, device: backend.description,
      model: opts.quick ? 'tiny' : 'SmolLM2-135M shape, random weights, f32', date: new Date().toISOString(), results };
    if (opts.out) writeFileSync(opts.out, JSON.stringify(json, null, 2));
    return json;
  } finally {
    backend.destroy();
  }
}
