// One LoRA SFT training step on a random-weight Llama-family model (f32): the Trainer's step for
// one micro-batch — sftLoss (cross-entropy over every next token), backward, grad norm and clip
// scale (1.0) on the device, multi-tensor AdamW, zeroGrad, loss and norm read back one step late.
// LoRA r 16, alpha 32 on q/k/v/o. Batch of random tokens.
// FLOPs (estimate): forward 2·P·N + causal attention + adapters; backward the same minus the frozen
// weights' gradients (2·P·N for input gradients, 2.5× attention, 2× adapters), with P the weights in
// matmuls (bench/models.ts) and N = B·T tokens. Bytes (lower bound): every weight read in the
// forward and again in the backward.
import { backward, noGrad } from '../../engine/autodiff.ts';
import type { Backend } from '../../engine/index.ts';
import type { LlamaConfig } from '../../llm/models/llama/config.ts';
import type { Batch } from '../../llm/data/collate.ts';
import { tidy } from '../../engine/memory.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { applyLoRA, trainableParameters } from '../../engine/nn/apply-lora.ts';
import { mul } from '../../engine/ops/index.ts';
import { AdamW } from '../../engine/optim/adamw.ts';
import { gradNormScale } from '../../engine/optim/clip.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { sftLoss } from '../../llm/train/sft.ts';
import { attentionFlops, matmulParams, TINY, totalParams, type ModelShape } from '../models.ts';
import { randomInts, type Workload } from '../workload.ts';

export const LORA = { r: 16, alpha: 32, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };

/** The model every training workload trains: random weights (seed 0), LoRA as above, AdamW on the adapters. */
export function loraTrainee(c: LlamaConfig, backend: Backend) {
  const m = new LlamaForCausalLM(c, { backend });
  randomInit(m, 0);
  const lora = applyLoRA(m, { ...LORA, seed: 0 });
  const params = trainableParameters(m).map(([, p]) => p);
  const optimizer = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
  return { m, lora, params, optimizer };
}

/** A full batch of random tokens, no padding, labels = inputs (every next token counts). */
export function randomBatch(seed: number, B: number, T: number, vocab: number): Batch {
  const ids = randomInts(B * T, seed, vocab);
  const inputIds = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
  return {
    kind: 'padded', shape: [B, T], inputIds, labels: inputIds.map((r) => [...r]),
    attentionMask: inputIds.map((r) => r.map(() => 1)), positionIds: inputIds.map((r) => r.map((_, t) => t)),
    lossTokens: B * (T - 1), examples: B,
  };
}

function adapterFlops(m: ModelShape, N: number): number {
  const c = m.config, h = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  // in + out of q, k, v, o
  return c.numLayers * 2 * N * LORA.r * ((h + q) + 2 * (h + kv) + (q + h));
}

export function loraSftWorkload(model: ModelShape, B: number, T: number): Workload {
  const c = model.config, N = B * T;
  const P = matmulParams(c), attn = attentionFlops(c, B, T), lora = adapterFlops(model, N);
  return {
    id: `lora_sft_step_${model.id}_b${B}t${T}`, suite: 'training', op: 'lora_sft_step', dtype: 'f32',
    shape: { model: model.id, batch: B, seq: T, layers: c.numLayers, hidden: c.hiddenSize, vocab: c.vocabSize, rank: LORA.r },
    flops: 2 * P * N + attn + lora + 2 * P * N + 2.5 * attn + 2 * lora,
    bytes: 2 * 4 * totalParams(c),
    impl: 'engine sftLoss + backward + device clip scale + multi-tensor AdamW, metrics read one step late (Trainer step; fused attention, LoRA linear and cross-entropy kernels)',
    wallClock: true, timing: { warmup: 2, samples: 5, maxInner: 1 }, tolerance: 1e-4,
    build(backend) {
      const { m, params, optimizer } = loraTrainee(c, backend);
      const run = trainerStep(params, optimizer, (seed) => {
        const batch = randomBatch(seed, B, T, c.vocabSize);
        return { lossSum: sftLoss(m, batch).lossSum, units: batch.lossTokens };
      });
      return {
        ...run,
        metrics: (t) => ({
          tokensPerSecond: N / (t.stats.medianMs / 1000), peakLiveBytes: backend.memoryStats().peakLiveBytes,
          trainableParams: params.reduce((s, p) => s + p.size, 0), loss: run.lastLoss(),
        }),
        dispose: () => { optimizer.dispose(); m.dispose(); },
      };
    },
    small: () => loraSftWorkload(TINY, 2, 8),
  };
}

/**
 * The Trainer's step for one micro-batch of a training workload: the loss summed over `units`,
 * backward of its mean, the global grad norm and clip scale (1.0) on the device, the optimizer with
 * that scale, zeroGrad, and loss and norm read back ONE STEP LATE as the Trainer does: `step()`
 * records a step, starts its reads, then awaits the previous step's values, so the host records
 * step N + 1 while the GPU runs step N. Batch `seed` counts up from 1, so the cpu check and the
 * timed run see the same batches; `outputs()` waits for each step (exact values of steps 1 and 2).
 */
export function trainerStep(params: Tensor[], optimizer: { step(gradScale?: Tensor | null): void; zeroGrad(): void },
  batchLoss: (seed: number) => { lossSum: Tensor; units: number }) {
  let seed = 1, lastLoss = NaN;
  let pending: Promise<[number, number]> | null = null;
  /** Record one step and start reading its loss and norm (nothing awaited). */
  const record = (): Promise<[number, number]> => {
    const loss = tidy(() => {
      const { lossSum, units } = batchLoss(seed++);
      const value = noGrad(() => mul(lossSum, 1 / units)); // before backward: freeGraph frees lossSum
      backward(mul(lossSum, 1 / units), null, { freeGraph: true });
      return value;
    });
    const { norm, scale } = gradNormScale(params, 1.0);
    optimizer.step(scale);
    optimizer.zeroGrad();
    scale.dispose();
    const read = Promise.all([loss.item(), norm.item()]).finally(() => { loss.dispose(); norm.dispose(); });
    read.then(([v]) => { lastLoss = v; }, () => {});
    return read;
  };
  return {
    step: async () => {
      const next = record();
      const prev = pending;
      pending = next;
      next.catch(() => {}); // awaited by the next step() or outputs()
      if (prev) await prev;
    },
    outputs: async () => {
      if (pending) { await pending; pending = null; }
      const [l1, n1] = await record();
      const [l2] = await record();
      return [[l1, n1, l2]];
    },
    /** The newest loss read back (the step before the one last recorded, while one is pending). */
    lastLoss: () => lastLoss,
  };
}
