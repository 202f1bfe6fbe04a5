// Preference methods as Trainer methods: a collated batch → summed loss and TRL's metrics.
// Chosen and rejected completions run through the policy in one forward pass (rows 0..P-1 chosen,
// P..2P-1 rejected); the loss functions live in ../methods. Each method's batch loss is a mean over
// pairs (examples for KTO), so lossSum = loss × pairs and the trainer averages over the pairs of an
// accumulation window, like TRL's mean of micro-batch means when micro-batches are equal.
import type { Batch } from '../data/collate.ts';
import type { KtoBatch, PreferenceBatch } from '../data/preference/collate.ts';
import { cpoLoss } from '../methods/cpo.ts';
import { dpoLoss, type DpoLossType, type MethodLoss } from '../methods/dpo.ts';
import { ktoLoss } from '../methods/kto.ts';
import { hiddenSequenceLogprobs } from '../methods/logprobs.ts';
import { orpoLoss } from '../methods/orpo.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { detach, noGrad } from '../../engine/autodiff.ts';
import { add, div, embedding, maximum, mul, narrow, neg, reshape, sum, tensor } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { batchLabels, hiddenBatch } from './forward.ts';
import type { Reference } from './reference.ts';
import type { MethodOutput } from './sft.ts';

export type PreferenceMethod = 'dpo' | 'orpo' | 'cpo' | 'simpo' | 'kto';
export const PREFERENCE_METHODS: readonly PreferenceMethod[] = ['dpo', 'orpo', 'cpo', 'simpo', 'kto'];

export interface PreferenceSettings {
  method: PreferenceMethod;
  /** β (TRL default 0.1; SimPO's paper uses 2.0, TRL keeps 0.1 for every method). */
  beta?: number;
  /** DPO: sigmoid | robust | hinge | ipo. */
  lossType?: DpoLossType;
  labelSmoothing?: number;
  /**
   * DPO: weight of the NLL on chosen completions added to the loss (RPO, Pang et al. 2024; TRL's
   * rpo_alpha). Keeps DPO from lowering the likelihood of the answers it prefers. Default none.
   */
  rpoAlpha?: number;
  /** CPO: weight of the NLL on chosen completions (default 1; 0 for SimPO). */
  cpoAlpha?: number;
  /** SimPO target margin γ (default 0.5). */
  gamma?: number;
  desirableWeight?: number;
  undesirableWeight?: number;
}


/** Whether a method compares against a reference model (DPO and KTO do; ORPO, CPO, SimPO do not). */
export function needsReference(m: PreferenceMethod): boolean {
  return m === 'dpo' || m === 'kto';
}

/** What one unit of loss is: pairs, or examples for KTO (Trainer.units). */
export function preferenceUnits(m: PreferenceMethod): (b: Batch) => number {
  return m === 'kto' ? (b) => b.shape[0] : (b) => (b as PreferenceBatch).pairs;
}

export function preferenceMethod(s: PreferenceSettings, ref: Reference | null): (model: LlamaForCausalLM, batch: Batch) => MethodOutput {
  if (needsReference(s.method) && !ref) throw new Error(`${s.method}: needs a reference model`);
  if (s.method === 'kto') return (model, batch) => ktoStep(model, batch as KtoBatch, s, ref!);
  return (model, batch) => pairStep(model, batch as PreferenceBatch, s, ref);
}

function pairStep(model: LlamaForCausalLM, batch: PreferenceBatch, s: PreferenceSettings, ref: Reference | null): MethodOutput {
  const P = batch.pairs;
  if (!Number.isInteger(P) || P < 1 || batch.shape[0] !== 2 * P) {
    throw new Error(`${s.method}: a preference batch holds 2·pairs rows (chosen then rejected), got ${batch.shape[0]} rows for ${P} pairs`);
  }
  const labels = batchLabels(model, batch);
  const lp = hiddenSequenceLogprobs(hiddenBatch(model, batch), model.headWeight, labels);
  // Per-token averages where the method says so (IPO, ORPO, SimPO); empty completions count as 1.
  const count = maximum(lp.count, 1);
  const avg = div(lp.sum, count);
  const chosen = (t: Tensor) => narrow(t, 0, 0, P), rejected = (t: Tensor) => narrow(t, 0, P, P);
  // NLL of the chosen completions: mean over all their tokens (TRL's cross-entropy on the chosen half).
  const nllChosen = () => div(neg(sum(chosen(lp.sum))), Math.max(1, countChosen(batch)));
  let out: MethodLoss;
  switch (s.method) {
    case 'dpo': {
      const refSum = ref!.logps(batch);
      const useAvg = s.lossType === 'ipo';
      const pol = useAvg ? avg : lp.sum, refLp = useAvg ? div(refSum, count) : refSum;
      out = dpoLoss({ chosen: chosen(pol), rejected: rejected(pol), refChosen: chosen(refLp), refRejected: rejected(refLp) },
        { beta: s.beta, lossType: s.lossType, labelSmoothing: s.labelSmoothing });
      if (s.rpoAlpha) {
        const nll = nllChosen();
        out = { loss: add(out.loss, mul(nll, s.rpoAlpha)), metrics: { ...out.metrics, nll_loss: detach(nll) } };
      }
      break;
    }
    case 'orpo':
      out = orpoLoss(chosen(avg), rejected(avg), nllChosen(), { beta: s.beta });
      break;
    case 'cpo':
    case 'simpo': {
      const simpo = s.method === 'simpo';
      const pol = simpo ? avg : lp.sum;
      out = cpoLoss(chosen(pol), rejected(pol), nllChosen(), {
        beta: s.beta, labelSmoothing: s.labelSmoothing, simpo, gamma: s.gamma, cpoAlpha: s.cpoAlpha,
      });
      break;
    }
    default:
      throw new Error(`unknown preference method "${s.method}" (expected ${PREFERENCE_METHODS.join(', ')})`);
  }
  return { lossSum: mul(out.loss, P), tokens: countChosen(batch), metrics: out.metrics };
}

function countChosen(batch: PreferenceBatch): number {
  let n = 0;
  for (let b = 0; b < batch.pairs; b++) for (let t = 1; t < batch.shape[1]; t++) if (batch.labels[b][t] !== -100) n++;
  return n;
}

function ktoStep(model: LlamaForCausalLM, batch: KtoBatch, s: PreferenceSettings, ref: Reference): MethodOutput {
  const n = batch.shape[0];
  if (!Array.isArray(batch.desirable) || batch.desirable.length !== n || !batch.kl) {
    throw new Error(`kto: a KTO batch needs desirable[${n}] and a kl batch of mismatched pairs`);
  }
  const lp = hiddenSequenceLogprobs(hiddenBatch(model, batch), model.headWeight, batchLabels(model, batch)).sum;
  const refLp = ref.logps(batch);
  // TRL computes the KL completions' policy log-probs without gradient; z is detached anyway.
  const klLp = noGrad(() => hiddenSequenceLogprobs(hiddenBatch(model, batch.kl), model.headWeight, batchLabels(model, batch.kl)).sum);
  const refKl = ref.logps(batch.kl);
  const pick = (t: Tensor, want: boolean) => {
    const idx = batch.desirable.flatMap((d, i) => (d === want ? [i] : []));
    return indexRows(t, idx);
  };
  const out = ktoLoss({
    chosen: pick(lp, true), refChosen: pick(refLp, true), rejected: pick(lp, false), refRejected: pick(refLp, false),
    kl: klLp, refKl,
  }, { beta: s.beta, desirableWeight: s.desirableWeight, undesirableWeight: s.undesirableWeight });
  return { lossSum: mul(out.loss, n), tokens: n, metrics: out.metrics };
}

/** Rows idx of x [n] → [idx.length] (gradient flows back to the picked rows). */
function indexRows(x: Tensor, idx: number[]): Tensor {
  if (!idx.length) return tensor([], [0], { backend: x.backend });
  const ids = tensor(Int32Array.from(idx), [idx.length], { dtype: 'i32', backend: x.backend });
  return reshape(embedding(reshape(x, [x.size, 1]), ids), [idx.length]);
}
