// Greedy generation under run-time directional ablation (llm/editing/hooks.ts: x − r̂ r̂ᵀ x at every
// block input, attention output and MLP output): what abliteration's refusal-rate evaluation and
// --search run. Compare with generate_* of the same shape for the hooks' overhead. Reported as tokens/s.
import { ablationHook } from '../../llm/editing/hooks.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { matmulParams, TINY, totalParams, type ModelShape } from '../models.ts';
import { randomInts, type Workload } from '../workload.ts';
import { generationInstance } from './generation.ts';

export function ablatedGenerationWorkload(model: ModelShape, B: number, P: number, G: number): Workload {
  const c = model.config;
  return {
    id: `generate_ablated_${model.id}_b${B}p${P}g${G}`, suite: 'generation', op: 'generate_ablated', dtype: 'f32',
    shape: { model: model.id, batch: B, prompt: P, newTokens: G, layers: c.numLayers, hidden: c.hiddenSize, vocab: c.vocabSize },
    // The hooks add 3 rank-1 projections (4·hidden FLOPs each) per block and token: small next to the matmuls.
    flops: 2 * matmulParams(c) * B * (P + G) + 12 * c.hiddenSize * c.numLayers * B * (P + G), bytes: 4 * totalParams(c) * G,
    impl: 'engine generate (greedy, KV cache) with an ablation hook', wallClock: true, timing: { warmup: 1, samples: 3, maxInner: 1 }, tolerance: 1e-4,
    build(backend) {
      const m = new LlamaForCausalLM(c, { backend });
      randomInit(m, 0);
      const r = Float32Array.from(randomInts(c.hiddenSize, 3, 1000), (v) => v - 500);
      const hook = ablationHook(m, r);
      m.hooks.push(hook.hook);
      // The prefill logits are checked with the direction ablated.
      return generationInstance(m, B, P, G, backend, () => { m.hooks.length = 0; hook.dispose(); m.dispose(); });
    },
    small: () => ablatedGenerationWorkload(TINY, 2, 5, 3),
  };
}
