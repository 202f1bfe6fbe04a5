// One GRPO step with LoRA on a random-weight Llama-family model (f32), as the trainer runs it:
// `prompts` prompts of P random tokens, G completions each sampled on the device (temperature 1,
// no top-k/top-p) for exactly `newTokens` tokens (no stop token), a host reward (share of even
// token ids), group advantages, then TRL's dapo loss over micro-batches of `micro` completions
// (fused per-token objective, prompt as context, logits / temperature), backward, clipGradNorm(1.0),
// AdamW. bench/reference/torch_bench.py's grpo_step is the same step in PyTorch (HF generate + PEFT).
// FLOPs (estimate): generation 2·W·B·(P + G) plus the loss's forward + backward over B·(P + G) tokens.
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { clipGradNorm } from '../../engine/optim/clip.ts';
import { mul } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { PromptExample } from '../../llm/data/prompts.ts';
import type { NamedReward } from '../../llm/rewards/types.ts';
import { GrpoSource, grpoMethod, type GrpoSettings } from '../../llm/train/grpo.ts';
import { attentionFlops, matmulParams, TINY, totalParams, type ModelShape } from '../models.ts';
import { randomInts, type Workload } from '../workload.ts';
import { LORA, loraTrainee } from './lora-sft.ts';

const evenShare: NamedReward = {
  name: 'even_tokens',
  fn: ({ completionIds }) => completionIds.map((ids) => ids.filter((t) => t % 2 === 0).length / Math.max(ids.length, 1)),
};

export function grpoWorkload(model: ModelShape, prompts: number, G: number, P: number, newTokens: number, micro: number): Workload {
  const c = model.config, B = prompts * G, T = P + newTokens;
  const W = matmulParams(c);
  return {
    id: `grpo_step_${model.id}_p${prompts}g${G}t${newTokens}`, suite: 'training', op: 'grpo_step', dtype: 'f32',
    shape: { model: model.id, prompts, generations: G, prompt: P, newTokens, micro, layers: c.numLayers, hidden: c.hiddenSize, vocab: c.vocabSize, rank: LORA.r },
    flops: 2 * W * B * T + 3 * (2 * W * B * T + attentionFlops(c, B, T)),
    bytes: 4 * totalParams(c) * (newTokens + 3 * (B / micro)),
    impl: 'llm GrpoSource (generate with the KV cache, sampleTokens on the device) + grpoMethod (dapo, fused grpoObjective) + clipGradNorm + AdamW',
    wallClock: true, timing: { warmup: 1, samples: 3, maxInner: 1 }, tolerance: 1e-3,
    build(backend) {
      const { m, params, optimizer } = loraTrainee(c, backend);
      const ids = randomInts(prompts * P, 11, c.vocabSize);
      const rows: PromptExample[] = Array.from({ length: prompts }, (_, i) => ({
        prompt: '', promptIds: Array.from(ids.subarray(i * P, (i + 1) * P)), columns: {}, location: `prompt ${i}`,
      }));
      const settings: GrpoSettings = { numGenerations: G, maxCompletionLength: newTokens, temperature: 1, lossType: 'dapo' };
      const accum = B / micro;
      const source = new GrpoSource({
        model: m, tokenizer: { stopIds: [], eosId: null, decode: () => '' }, prompts: rows, rewards: [evenShare], settings,
        batchSize: micro, gradAccum: accum, seed: 0, ref: null,
      });
      const { method, units } = grpoMethod(settings, 1);
      let lastLoss = NaN, sampleMs = 0, stepMs = 0;
      const one = async (): Promise<[number, number]> => {
        const t0 = performance.now();
        const window = [];
        for (let i = 0; i < accum; i++) window.push(await source.next()); // the first draw samples the whole batch
        const t1 = performance.now();
        const total = window.reduce((s, b) => s + units!(b), 0);
        const losses: Tensor[] = window.map((b) => tidy(() => {
          const out = method(m, b);
          mul(out.lossSum, 1 / Math.max(total, 1)).backward();
          return noGrad(() => mul(out.lossSum, 1 / Math.max(total, 1)));
        }));
        const norm = clipGradNorm(params, 1.0);
        optimizer.step();
        optimizer.zeroGrad();
        let loss = 0;
        for (const l of losses) { loss += await l.item(); l.dispose(); }
        const n = await norm.item();
        norm.dispose();
        lastLoss = loss;
        sampleMs = t1 - t0;
        stepMs = performance.now() - t0;
        return [loss, n];
      };
      return {
        step: async () => { await one(); },
        outputs: async () => [await one()],
        metrics: (t) => ({
          completionTokensPerSecond: (B * newTokens) / (t.stats.medianMs / 1000), tokensPerSecond: (B * T) / (t.stats.medianMs / 1000),
          sampleShare: stepMs > 0 ? sampleMs / stepMs : NaN, peakLiveBytes: backend.memoryStats().peakLiveBytes, loss: lastLoss,
        }),
        dispose: () => { optimizer.dispose(); m.dispose(); },
      };
    },
    // 4 completions of 3 tokens: rewards differ within the group, so the check sees a non-zero
    // loss and gradient (1 token × 2 completions often tied, giving advantage 0 and a check of 0 = 0).
    small: () => grpoWorkload(TINY, 1, 4, 3, 3, 2),
  };
}
