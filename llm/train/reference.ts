// The reference model of DPO and KTO: log-probabilities of a batch's completions under the policy
// as it was before training. With LoRA that is the same model with every adapter switched off
// (no second copy of the weights); with full fine-tuning, a frozen copy. `precomputeReference`
// runs it once over the data before training (TRL's precompute_ref_log_probs) and then serves
// the stored values, so training steps skip the extra forward pass.
import type { Backend } from '../../engine/index.ts';
import { noGrad } from '../../engine/autodiff.ts';
import type { Batch } from '../data/collate.ts';
import { hiddenSequenceLogprobs } from '../methods/logprobs.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import type { LoRALinear } from '../../engine/nn/lora.ts';
import { tensor } from '../../engine/ops/index.ts';
import { tidy } from '../../engine/memory.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { batchLabels, hiddenBatch } from './forward.ts';

/** Summed completion log-probabilities [rows] of a batch, detached. */
export interface Reference {
  logps(batch: Batch): Tensor;
}

/** Runs a computation under the reference policy (GRPO needs per-token values, DPO/KTO sums). */
export interface ReferencePolicy {
  with<T>(fn: (model: LlamaForCausalLM) => T): T;
}

/** The policy itself with its adapters switched off (LoRA training): no second copy of the weights. */
export function adapterOffPolicy(model: LlamaForCausalLM, adapters: Iterable<LoRALinear>): ReferencePolicy {
  const layers = [...adapters];
  if (!layers.length) throw new Error('reference: adapter-off reference needs LoRA layers (full fine-tuning needs a frozen copy)');
  return {
    with(fn) {
      layers.forEach((l) => { l.enabled = false; });
      try {
        return fn(model);
      } finally {
        layers.forEach((l) => { l.enabled = true; });
      }
    },
  };
}

/** A separate, frozen model (full fine-tuning). */
export function frozenPolicy(ref: LlamaForCausalLM): ReferencePolicy {
  for (const p of ref.parameters()) p.requiresGrad = false;
  return { with: (fn) => fn(ref) };
}

export function adapterOffReference(model: LlamaForCausalLM, adapters: Iterable<LoRALinear>): Reference {
  const policy = adapterOffPolicy(model, adapters);
  return { logps: (batch) => policy.with((m) => frozenLogps(m, batch)) };
}

export function modelReference(ref: LlamaForCausalLM): Reference {
  const policy = frozenPolicy(ref);
  return { logps: (batch) => policy.with((m) => frozenLogps(m, batch)) };
}

function frozenLogps(model: LlamaForCausalLM, batch: Batch): Tensor {
  return noGrad(() => tidy(() => hiddenSequenceLogprobs(hiddenBatch(model, batch), model.headWeight, batchLabels(model, batch)).sum));
}

/** A row's identity for the precomputed table: its real tokens and which of them are counted. */
function rowKey(batch: Batch, b: number): string {
  const n = batch.attentionMask[b].reduce((s, v) => s + v, 0);
  const counted = batch.labels[b].slice(0, n).map((l) => (l === -100 ? 0 : 1)).join('');
  return `${batch.inputIds[b].slice(0, n).join(',')}|${counted}`;
}

/**
 * Run `ref` over every batch once and serve the stored log-probabilities afterwards. A row that
 * was not seen (different data) is an error rather than a silent recomputation.
 */
export async function precomputeReference(ref: Reference, batches: Iterable<Batch>, backend: Backend): Promise<Reference & { rows: number }> {
  const table = new Map<string, number>();
  for (const batch of batches) {
    const lp = ref.logps(batch);
    const v = await lp.data();
    lp.dispose();
    for (let b = 0; b < batch.shape[0]; b++) table.set(rowKey(batch, b), v[b]);
  }
  return {
    rows: table.size,
    logps(batch) {
      const out: number[] = [];
      for (let b = 0; b < batch.shape[0]; b++) {
        const v = table.get(rowKey(batch, b));
        if (v === undefined) throw new Error(`reference: row ${b} of this batch was not in the precomputed data (--precompute-ref covers the training and eval data only)`);
        out[b] = v;
      }
      return tensor(out, [batch.shape[0]], { backend });
    },
  };
}
