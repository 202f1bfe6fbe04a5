// CPO (Xu et al. 2024) and SimPO (Meng et al. 2024) as TRL 1.x's CPOTrainer.cpo_loss: no reference
// model; logits = lp_c − lp_r (summed log-probs for CPO, per-token averages for SimPO, which also
// subtracts γ/β); sigmoid loss with label smoothing ε; plus cpo_alpha × NLL on chosen completions.
import { detach } from '../../engine/autodiff.ts';
import { add, expr as X, fused, gt, mean, mul, sub, unaryOps } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { MethodLoss } from './dpo.ts';

export interface CpoOpts { beta?: number; labelSmoothing?: number; cpoAlpha?: number; simpo?: boolean; gamma?: number }

export function cpoLoss(chosen: Tensor, rejected: Tensor, nllChosen: Tensor, o: CpoOpts = {}): MethodLoss {
  const beta = o.beta ?? 0.1, eps = o.labelSmoothing ?? 0;
  const alpha = o.cpoAlpha ?? (o.simpo ? 0 : 1);
  const shift = o.simpo ? (o.gamma ?? 0.5) / beta : 0;
  const logsigmoid = unaryOps.logsigmoid.f;
  const losses = fused(o.simpo ? 'simpo' : 'cpo', [chosen, rejected], (c, r) => {
    const z = X.mul(X.sub(X.sub(c, r), shift), beta);
    return X.sub(X.mul(X.neg(logsigmoid(z)), 1 - eps), X.mul(logsigmoid(X.neg(z)), eps));
  });
  const rc = mul(detach(chosen), beta), rr = mul(detach(rejected), beta);
  const metrics: Record<string, Tensor> = {
    'rewards/chosen': mean(rc), 'rewards/rejected': mean(rr), 'rewards/accuracies': mean(gt(rc, rr)),
    'rewards/margins': mean(sub(rc, rr)), 'logps/chosen': mean(detach(chosen)), 'logps/rejected': mean(detach(rejected)),
    nll_loss: detach(nllChosen),
  };
  return { loss: alpha ? add(mean(losses), mul(nllChosen, alpha)) : mean(losses), metrics };
}
