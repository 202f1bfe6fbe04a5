// DPO and its variants, as TRL 1.x defines them (trl/trainer/dpo_trainer.py, dpo_loss).
//   Δ = (logπ_c − logπref_c) − (logπ_r − logπref_r), all [pairs]
//   sigmoid: −(1−ε)·logσ(βΔ) − ε·logσ(−βΔ)        (ε = label smoothing; cDPO)
//   robust:  (−(1−ε)·logσ(βΔ) + ε·logσ(−βΔ)) / (1−2ε)
//   hinge:   relu(1 − βΔ)
//   ipo:     (Δ − 1/(2β))², with per-token-averaged log-probabilities (the caller passes averages)
// Metrics use TRL's names; rewards are β × (policy − reference) log-ratios, detached.
import { detach } from '../../engine/autodiff.ts';
import { elementwise, expr as X, fused, gt, mean, sub, unaryOps } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

const logsigmoid = unaryOps.logsigmoid.f, relu = unaryOps.relu.f;

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
  // One kernel for the per-pair losses and one for their gradient (engine/ops/elementwise.ts fused).
  const losses = fused(`dpo ${type}`, [lp.chosen, lp.rejected, lp.refChosen, lp.refRejected], (c, r, refC, refR) => {
    const delta = X.sub(X.sub(c, refC), X.sub(r, refR));
    const z = X.mul(delta, beta);
    switch (type) {
      case 'sigmoid': return X.sub(X.mul(X.neg(logsigmoid(z)), 1 - eps), X.mul(logsigmoid(X.neg(z)), eps));
      case 'robust': return X.div(X.add(X.mul(X.neg(logsigmoid(z)), 1 - eps), X.mul(logsigmoid(X.neg(z)), eps)), 1 - 2 * eps);
      case 'hinge': return relu(X.sub(1, z));
      case 'ipo': { const d = X.sub(delta, 1 / (2 * beta)); return X.mul(d, d); }
    }
  });
  const [rc, rr] = elementwise('dpo rewards', [lp.chosen, lp.refChosen, lp.rejected, lp.refRejected],
    (c, refC, r, refR) => [X.mul(X.sub(c, refC), beta), X.mul(X.sub(r, refR), beta)]);
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
