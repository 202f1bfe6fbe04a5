// The suites and the workloads each runs, at quick sizes (seconds on a CPU or a software GPU) and
// full sizes (a real GPU). To add a workload: write bench/workloads/NAME.ts exporting a function
// that returns a Workload, and list it in a suite below (e.g. a DPO step in `training`).
import type { BenchMode, BenchDType, SuiteName } from './schema.ts';
import type { Workload } from './workload.ts';
import { adamwWorkload } from './workloads/adamw.ts';
import { attentionWorkload } from './workloads/attention.ts';
import { crossEntropyWorkload } from './workloads/cross-entropy.ts';
import { addWorkload, copyWorkload, sumWorkload } from './workloads/elementwise.ts';
import { generationWorkload } from './workloads/generation.ts';
import { ablatedGenerationWorkload } from './workloads/ablated-generation.ts';
import { loraLinearWorkload } from './workloads/lora-linear.ts';
import { loraSftWorkload } from './workloads/lora-sft.ts';
import { dpoWorkload } from './workloads/dpo.ts';
import { grpoWorkload } from './workloads/grpo.ts';
import { matmulWorkload } from './workloads/matmul.ts';
import { softmaxWorkload } from './workloads/softmax.ts';
import { QWEN25_05B, SMOLLM2_135M, TINY, TINYLLAMA_11B } from './models.ts';

/** A workload the suite would run but this engine cannot (yet): recorded in the file's `skipped`. */
export interface Unsupported { id: string; dtype: BenchDType; reason: string }

export interface Suite {
  name: SuiteName;
  description: string;
  workloads(mode: BenchMode): Workload[];
  /** Rows other engines have and wgrad does not, so a report can say why a cell is empty. */
  unsupported?(mode: BenchMode): Unsupported[];
}

const kernels: Suite = {
  name: 'kernels',
  description: 'matmul, elementwise/reduction bandwidth, softmax, cross-entropy, attention, LoRA linear, AdamW',
  workloads(mode) {
    const q = mode === 'quick';
    const sizes = q ? [64, 128] : [1024, 2048, 4096];
    const big = sizes[sizes.length - 1];
    const n = q ? 1 << 16 : 64 << 20;
    return [
      ...sizes.map((s) => matmulWorkload(s, s, s)),
      matmulWorkload(big, big, big, false, true), // x·Wᵀ (nn.Linear forward)
      matmulWorkload(big, big, big, true, false), // Xᵀ·dY (weight gradient)
      copyWorkload(n),
      addWorkload(n),
      sumWorkload(n),
      q ? softmaxWorkload(64, 256) : softmaxWorkload(16384, 4096),
      // SmolLM2-135M at 8 × 512 tokens: N 4096, V 49152.
      q ? crossEntropyWorkload(32, 512) : crossEntropyWorkload(4096, 49152),
      // SmolLM2-135M's attention at batch 8 × 512: 9 heads of 64.
      q ? attentionWorkload(1, 2, 32, 16, false) : attentionWorkload(8, 9, 512, 64, false),
      q ? attentionWorkload(1, 2, 32, 16, true) : attentionWorkload(8, 9, 512, 64, true),
      // TinyLlama's q_proj (2048 → 2048) at 4096 tokens, r 16.
      q ? loraLinearWorkload(64, 64, 64, 8) : loraLinearWorkload(4096, 2048, 2048, 16),
      q ? adamwWorkload(1 << 16) : adamwWorkload(16 << 20),
    ];
  },
  unsupported(mode) {
    const sizes = mode === 'quick' ? [64, 128] : [1024, 2048, 4096];
    return sizes.map((s) => ({ id: `matmul_${s}_nn`, dtype: 'f16' as const, reason: 'wgrad has no f16 storage or f16 matmul yet (f32 and i32 only)' }));
  },
};

const training: Suite = {
  name: 'training',
  description: 'LoRA SFT, DPO and GRPO steps (LoRA r 16 on q/k/v/o, AdamW) on SmolLM2-135M, Qwen2.5-0.5B and TinyLlama-1.1B shapes',
  workloads(mode) {
    if (mode === 'quick') return [loraSftWorkload(TINY, 2, 16), dpoWorkload(TINY, 2, 16), grpoWorkload(TINY, 1, 2, 4, 2, 2)];
    return [loraSftWorkload(SMOLLM2_135M, 8, 512), dpoWorkload(SMOLLM2_135M, 4, 512), loraSftWorkload(QWEN25_05B, 4, 512), loraSftWorkload(TINYLLAMA_11B, 4, 512),
      // 8 prompts × 8 generations × 256 new tokens (prompt 128), the loss over micro-batches of 16.
      grpoWorkload(SMOLLM2_135M, 8, 8, 128, 256, 16)];
  },
};

const generation: Suite = {
  name: 'generation',
  description: 'greedy generation (prompt 128, 128 new tokens, batch 1 and 16) on the same model shapes',
  workloads(mode) {
    if (mode === 'quick') return [generationWorkload(TINY, 1, 8, 8), generationWorkload(TINY, 4, 8, 8), ablatedGenerationWorkload(TINY, 4, 8, 8)];
    return [
      ...[SMOLLM2_135M, QWEN25_05B, TINYLLAMA_11B].flatMap((m) => [generationWorkload(m, 1, 128, 128), generationWorkload(m, 16, 128, 128)]),
      ablatedGenerationWorkload(SMOLLM2_135M, 16, 128, 128),
    ];
  },
};

export const SUITE_REGISTRY: Record<SuiteName, Suite> = { kernels, training, generation };
