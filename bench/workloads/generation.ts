// Greedy generation with the KV cache on a random-weight Llama-family model (f32): B prompts of
// P random tokens, G new tokens each (llm/generate/generate.ts). Reported as tokens/s.
// FLOPs (estimate): 2·(weights in matmuls)·B·(P + G), attention left out. Bytes (lower bound):
// every weight read once per forward call (one prefill and G − 1 decode steps).
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { generate } from '../../llm/generate/generate.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { tensor } from '../../engine/ops/index.ts';
import { matmulParams, TINY, totalParams, type ModelShape } from '../models.ts';
import type { Backend } from '../../engine/index.ts';
import { randomInts, type Instance, type Workload } from '../workload.ts';

export function generationWorkload(model: ModelShape, B: number, P: number, G: number): Workload {
  const c = model.config;
  return {
    id: `generate_${model.id}_b${B}p${P}g${G}`, suite: 'generation', op: 'generate', dtype: 'f32',
    shape: { model: model.id, batch: B, prompt: P, newTokens: G, layers: c.numLayers, hidden: c.hiddenSize, vocab: c.vocabSize },
    flops: 2 * matmulParams(c) * B * (P + G), bytes: 4 * totalParams(c) * G,
    impl: 'engine generate (greedy, KV cache)', wallClock: true, timing: { warmup: 1, samples: 3, maxInner: 1 }, tolerance: 1e-4,
    build(backend) {
      const m = new LlamaForCausalLM(c, { backend });
      randomInit(m, 0);
      return generationInstance(m, B, P, G, backend, () => m.dispose());
    },
    small: () => generationWorkload(TINY, 2, 5, 3),
  };
}

/** Time greedy generation of G tokens for B random prompts of P tokens; check the prefill logits. */
export function generationInstance(m: LlamaForCausalLM, B: number, P: number, G: number, backend: Backend, dispose: () => void): Instance {
  const ids = randomInts(B * P, 7, m.config.vocabSize);
  const prompts = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * P, (b + 1) * P)));
  let generated = 0;
  // GPU commands recorded per generation step (prefill included), where the backend counts them.
  const counters = () => (backend as Partial<{ counters: { dispatches: number } }>).counters?.dispatches;
  let dispatches: number | undefined;
  return {
    step: async () => {
      const d0 = counters();
      const out = await generate(m, prompts, { maxNewTokens: G });
      const d1 = counters();
      generated = out.reduce((s, o) => s + o.length, 0);
      if (d0 !== undefined && d1 !== undefined) dispatches = (d1 - d0) / G;
    },
    // The prefill logits: the numbers every generated token is chosen from.
    outputs: async () => {
      const x = tensor(ids, [B, P], { dtype: 'i32', backend });
      const logits = tidy(() => noGrad(() => m.forward(x)));
      const v = await logits.data();
      logits.dispose();
      x.dispose();
      return [v];
    },
    metrics: (t) => ({
      tokensPerSecond: generated / (t.stats.medianMs / 1000), newTokens: generated,
      ...(dispatches !== undefined ? { dispatchesPerStep: dispatches } : {}),
    }),
    dispose,
  };
}
