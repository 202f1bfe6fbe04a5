// One DPO training step with LoRA on a random-weight Llama-family model (f32): P pairs of T tokens
// (prompt T/2, completion T/2; chosen and rejected rows in one batch of 2P), the reference = the same
// model with the adapter off (one extra forward, no graph), TRL's sigmoid loss with β 0.1, backward,
// clipGradNorm(1.0), AdamW, zeroGrad, loss read back: the Trainer's step with preferenceMethod('dpo').
// bench/reference/torch_bench.py's dpo_step runs the same step with PyTorch + PEFT.
// FLOPs (estimate): a reference forward plus the SFT step's forward + backward over 2P·T tokens.
import { preferenceMethod } from '../../llm/train/preference.ts';
import type { PreferenceBatch } from '../../llm/data/preference/collate.ts';
import { adapterOffReference } from '../../llm/train/reference.ts';
import { attentionFlops, matmulParams, TINY, totalParams, type ModelShape } from '../models.ts';
import { randomInts, type Workload } from '../workload.ts';
import { LORA, loraTrainee, randomBatch, trainerStep } from './lora-sft.ts';

/** P random pairs: rows 0..P-1 prompt+chosen, P..2P-1 the same prompt + rejected; loss on completions. */
export function randomPairs(seed: number, P: number, T: number, vocab: number): PreferenceBatch {
  const b = randomBatch(seed, 2 * P, T, vocab);
  const half = Math.floor(T / 2);
  const prompts = randomInts(P * half, seed + 7919, vocab);
  for (let i = 0; i < 2 * P; i++) {
    for (let t = 0; t < half; t++) { b.inputIds[i][t] = prompts[(i % P) * half + t]; b.labels[i][t] = -100; }
    for (let t = half; t < T; t++) b.labels[i][t] = b.inputIds[i][t];
  }
  return { ...b, lossTokens: 2 * P * (T - half), examples: 2 * P, pairs: P };
}

export function dpoWorkload(model: ModelShape, P: number, T: number): Workload {
  const c = model.config, N = 2 * P * T;
  const P2 = matmulParams(c), attn = attentionFlops(c, 2 * P, T);
  return {
    id: `dpo_step_${model.id}_p${P}t${T}`, suite: 'training', op: 'dpo_step', dtype: 'f32',
    shape: { model: model.id, pairs: P, seq: T, layers: c.numLayers, hidden: c.hiddenSize, vocab: c.vocabSize, rank: LORA.r },
    flops: 3 * (2 * P2 * N + attn) + 1.5 * attn,
    bytes: 3 * 4 * totalParams(c),
    impl: 'engine preferenceMethod(dpo) with adapter-off reference + backward + clipGradNorm + AdamW (Trainer step)',
    wallClock: true, timing: { warmup: 2, samples: 5, maxInner: 1 }, tolerance: 1e-4,
    build(backend) {
      const { m, lora, params, optimizer } = loraTrainee(c, backend);
      const dpo = preferenceMethod({ method: 'dpo', beta: 0.1 }, adapterOffReference(m, lora.values()));
      const run = trainerStep(params, optimizer, (seed) => ({ lossSum: dpo(m, randomPairs(seed, P, T, c.vocabSize)).lossSum, units: P }));
      return {
        ...run,
        metrics: (t) => ({
          pairsPerSecond: P / (t.stats.medianMs / 1000), tokensPerSecond: N / (t.stats.medianMs / 1000),
          peakLiveBytes: backend.memoryStats().peakLiveBytes, loss: run.lastLoss(),
        }),
        dispose: () => { optimizer.dispose(); m.dispose(); },
      };
    },
    small: () => dpoWorkload(TINY, 2, 8),
  };
}
