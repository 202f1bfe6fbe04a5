// LoRA SFT step throughput: a random-weight model with SmolLM2-135M's shape (quick: a tiny shape),
// batch 8 × 512 tokens (quick: 2 × 16), LoRA r = 16, alpha = 32 on q/k/v/o, AdamW, one full
// forward + backward + clip + optimizer step per step, exactly the Trainer's step (sftLoss, loss
// normalised by the counted tokens, clipGradNorm, AdamW, zeroGrad, loss read back). Warm-up 2
// steps, then 5 timed steps. Reports tokens/s and the peak of live backend bytes
// (memoryStats().peakLiveBytes; GPU: pool bucket sizes). Compare with
// bench/reference/torch_lora_sft.py on the same GPU.
import { writeFileSync } from 'node:fs';
import type { Backend } from '../backends/backend.ts';
import { createBackend, type BackendChoice } from '../backends/select.ts';
import { noGrad } from '../engine/autodiff.ts';
import type { Batch } from '../engine/data/collate.ts';
import { tidy } from '../engine/memory.ts';
import type { LlamaConfig } from '../engine/models/llama/config.ts';
import { randomInit } from '../engine/models/llama/init.ts';
import { LlamaForCausalLM } from '../engine/models/llama/model.ts';
import { applyLoRA, trainableParameters } from '../engine/nn/apply-lora.ts';
import { mul } from '../engine/ops/index.ts';
import { AdamW } from '../engine/optim/adamw.ts';
import { clipGradNorm } from '../engine/optim/clip.ts';
import { Generator } from '../engine/random.ts';
import type { Tensor } from '../engine/tensor.ts';
import { sftLoss } from '../engine/train/sft.ts';
import { smollm135m } from './generation.ts';

const tiny: LlamaConfig = { ...smollm135m, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 256 };

export interface TrainingResult {
  batch: number; seqLen: number; steps: number; seconds: number; tokensPerSecond: number; stepMs: number[];
  peakLiveBytes: number; trainableParams: number; loss: number[];
  /** One extra batch, GPU synced after each phase: forward alone (no graph), forward + backward, clip + AdamW. */
  phaseMs: { forward: number; forwardBackward: number; clipAndOptimizer: number };
}

/** A full batch of random tokens, no padding, labels = inputs (every next token counts). */
function randomBatch(g: Generator, B: number, T: number, vocab: number): Batch {
  const inputIds = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(g.uniform() * vocab)));
  return {
    kind: 'padded', shape: [B, T], inputIds, labels: inputIds.map((r) => [...r]),
    attentionMask: inputIds.map((r) => r.map(() => 1)), positionIds: inputIds.map((r) => r.map((_, t) => t)),
    lossTokens: B * (T - 1), examples: B,
  };
}

export async function runTrainingBench(opts: { quick?: boolean; out?: string; backend?: string }) {
  const backend: Backend = await createBackend({ backend: opts.backend as BackendChoice | undefined });
  const config = opts.quick ? tiny : smollm135m;
  const B = opts.quick ? 2 : 8, T = opts.quick ? 16 : 512;
  const warmup = 2, timed = opts.quick ? 2 : 5;
  try {
    const model = new LlamaForCausalLM(config, { backend });
    randomInit(model, 0);
    applyLoRA(model, { r: 16, alpha: 32, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], seed: 0 });
    const params = trainableParameters(model).map(([, p]) => p);
    const optimizer = new AdamW(params, { lr: 1e-4, weightDecay: 0.01 });
    const g = new Generator(1);
    const batches = Array.from({ length: warmup + timed }, () => randomBatch(g, B, T, config.vocabSize));

    // The Trainer's trainStep for one micro-batch (gradAccum 1), max grad norm 1.
    const step = async (batch: Batch): Promise<number> => {
      const loss = tidy(() => {
        const { lossSum } = sftLoss(model, batch);
        mul(lossSum, 1 / batch.lossTokens).backward();
        return noGrad(() => mul(lossSum, 1 / batch.lossTokens));
      });
      const norm: Tensor = clipGradNorm(params, 1.0);
      optimizer.step();
      optimizer.zeroGrad();
      const v = await loss.item(); // waits for the whole step on the GPU
      loss.dispose();
      norm.dispose();
      return v;
    };

    const losses: number[] = [], stepMs: number[] = [];
    for (let i = 0; i < warmup; i++) losses.push(await step(batches[i]));
    const t0 = performance.now();
    for (let i = warmup; i < warmup + timed; i++) {
      const s0 = performance.now();
      losses.push(await step(batches[i]));
      stepMs.push(performance.now() - s0);
    }
    const seconds = (performance.now() - t0) / 1000;
    const tokens = timed * B * T;

    // Phase split on one more batch, waiting for the GPU after each phase: the forward alone (no
    // graph), forward + backward, then clip + AdamW on those gradients.
    const extra = randomBatch(g, B, T, config.vocabSize);
    const phaseMs = { forward: 0, forwardBackward: 0, clipAndOptimizer: 0 };
    await backend.sync();
    const p0 = performance.now();
    const fwd = noGrad(() => tidy(() => sftLoss(model, extra).lossSum));
    await fwd.item();
    fwd.dispose();
    const p1 = performance.now();
    tidy(() => mul(sftLoss(model, extra).lossSum, 1 / extra.lossTokens).backward());
    await backend.sync();
    const p2 = performance.now();
    clipGradNorm(params, 1.0).dispose();
    optimizer.step();
    optimizer.zeroGrad();
    await backend.sync();
    const p3 = performance.now();
    Object.assign(phaseMs, { forward: p1 - p0, forwardBackward: p2 - p1, clipAndOptimizer: p3 - p2 });
    const r: TrainingResult = {
      batch: B, seqLen: T, steps: timed, seconds, tokensPerSecond: tokens / seconds, stepMs,
      peakLiveBytes: backend.memoryStats().peakLiveBytes, trainableParams: params.reduce((s, p) => s + p.size, 0), loss: losses, phaseMs,
    };
    console.log(`training LoRA SFT ${B}×${T}: ${timed} steps in ${seconds.toFixed(2)} s → ${r.tokensPerSecond.toFixed(0)} tokens/s, ` +
      `peak live ${(r.peakLiveBytes / 2 ** 20).toFixed(0)} MiB, phases (ms, synced) forward ${phaseMs.forward.toFixed(0)} ` +
      `forward+backward ${phaseMs.forwardBackward.toFixed(0)} clip+AdamW ${phaseMs.clipAndOptimizer.toFixed(0)}, losses ${losses.map((l) => l.toFixed(3)).join(' ')} (${backend.description})`);
    optimizer.dispose();
    model.dispose();
    const json = {
      suite: 'training', runtime: `node ${process.versions.node}`, backend: backend.name, device: backend.description,
      model: opts.quick ? 'tiny' : 'SmolLM2-135M shape, random weights, f32',
      method: 'LoRA r=16 alpha=32 on q/k/v/o, AdamW lr 1e-4, clip 1.0, CE over all tokens',
      optimizer: 'fused Backend.adamw', warmupSteps: warmup, date: new Date().toISOString(), results: [r],
    };
    if (opts.out) writeFileSync(opts.out, JSON.stringify(json, null, 2));
    return json;
  } finally {
    backend.destroy();
  }
}
