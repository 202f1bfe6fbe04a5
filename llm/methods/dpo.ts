// DPO and its variants, as TRL 1.x defines them (trl/trainer/dpo_trainer.py, dpo_loss).
//   Δ = (logπ_c − logπref_c) − (logπ_r − logπref_r), all [pairs]
//   sigmoid: −(1−ε)·logσ(βΔ) − ε·logσ(−βΔ)        (ε = label smoothing; cDPO)
//   robust:  (−(1−ε)·logσ(βΔ) + ε·logσ(−βΔ)) / (1−2ε)
//   hinge:   relu(1 − βΔ)
//   ipo:     (Δ − 1/(2β))², with per-token-averaged log-probabilities (the caller passes averages)
// Metrics use TRL's names; rewards are β × (policy − reference) log-ratios, detached.
import { detach } from '../../engine/autodiff.ts';
import { add, div, gt, logsigmoid, mean, mul, neg, relu, square, sub } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

export type DpoLossType = 'sigmoid' | 'robust' | 'hinge' | 'ipo';
export const DPO_LOSS_TYPES: readonly DpoLossType[] = ['sigmoid', 'robust', 'hinge', 'ipo'];

export interface DpoOpts { beta?: number; lossType?: DpoLossType; labelSmoothing?: number }

export interface PreferenceLogps { chosen: Tensor; rejected: Tensor; refChosen: Tensor; refRejected: Tensor }

export interface MethodLoss { loss: Tensor; metrics: Record<string, Tensor> }

export function dpoLoss(lp: PreferenceLogps, opts: DpoOpts = {}): MethodLoss {
  const beta = opts.beta ?? 0.1, eps = opts.labelSmoothing ?? 0, type = opts.lossType ?? 'sigmoid';
  if (!DPO_LOSS_TYPES.includes(type)) throw new Error(`dpo: unknown loss type "${type}" (expected ${DPO_LOSS_TYPES.join(', ')})`);
  if (!(beta > 0)) throw new Error(`dpo: beta must be > 0, got ${beta}`);
  if (!(eps >= 0 && eps < 0.5)) throw new Error(`dpo: label smoothing must be in [0, 0.5), got ${eps}`);
  const chosenRatio = sub(lp.chosen, lp.refChosen), rejectedRatio = sub(lp.rejected, lp.refRejected);
  const delta = sub(chosenRatio, rejectedRatio);
  const z = mul(delta, beta);
  let losses: Tensor;
  switch (type) {
    case 'sigmoid':
      losses = sub(mul(neg(logsigmoid(z)), 1 - eps), mul(logsigmoid(neg(z)), eps));
      break;
    case 'robust':
      losses = div(add(mul(neg(logsigmoid(z)), 1 - eps), mul(logsigmoid(neg(z)), eps)), 1 - 2 * eps);
      break;
    case 'hinge':
      losses = relu(sub(1, z));
      break;
    case 'ipo':
      losses = square(sub(delta, 1 / (2 * beta)));
      break;
  }
  const rc = mul(detach(chosenRatio), beta), rr = mul(detach(rejectedRatio), beta);
  return {
    loss: mean(losses),
    metrics: {
      'rewards/chosen': mean(rc),
      'rewards/rejected': mean(rr),
      'rewards/accuracies': mean(gt(rc, rr)),
      'rewards/margins': mean(sub(rc, rr)),
      'logps/chosen': mean(detach(lp.chosen)),
      'logps/rejected': mean(detach(lp.rejected)),
    },
  };
}
