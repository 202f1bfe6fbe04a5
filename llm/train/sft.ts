// Supervised fine-tuning loss: next-token cross-entropy on the positions whose label is not −100,
// summed (the trainer divides by the tokens of the whole accumulation window, as TRL does).
import type { Batch } from '../data/collate.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { lmHeadLogprobs, neg, sum, tensor } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { hiddenBatch } from './forward.ts';
import { IGNORE_INDEX } from '../data/labels.ts';

/** Targets [B, T]: labels shifted left by one (position t predicts token t+1), −100 at the end. */
export function shiftedTargets(batch: Batch): Int32Array {
  const [B, T] = batch.shape;
  const out = new Int32Array(B * T).fill(IGNORE_INDEX);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) out[b * T + t] = batch.labels[b][t + 1];
  return out;
}

export interface MethodOutput {
  /** The loss summed over the batch's units (tokens for SFT; pairs or examples for preference methods). */
  lossSum: Tensor;
  tokens: number;
  /** Batch means logged next to the loss (TRL's names: rewards/chosen, ...), scalars. */
  metrics?: Record<string, Tensor>;
}

/**
 * Σ −log p(target) over the counted tokens: cross-entropy with reduction 'sum', with the lm_head
 * applied in row chunks (lmHeadLogprobs) so the [B·T, vocab] logits are never materialised.
 */
export function sftLoss(model: LlamaForCausalLM, batch: Batch): MethodOutput {
  const backend = model.backend;
  const [B, T] = batch.shape;
  const targets = tensor(shiftedTargets(batch), [B, T], { backend });
  const logp = lmHeadLogprobs(hiddenBatch(model, batch), model.headWeight, targets, { ignoreIndex: IGNORE_INDEX });
  const lossSum = neg(sum(logp)); // ignored targets give logp 0
  let tokens = 0;
  for (const t of Array.from(targets.host!)) if (t !== IGNORE_INDEX) tokens++;
  return { lossSum, tokens };
}
