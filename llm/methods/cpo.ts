// CPO (Xu et al. 2024) and SimPO (Meng et al. 2024) as TRL 1.x's CPOTrainer.cpo_loss: no reference
// model; logits = lp_c − lp_r (summed log-probs for CPO, per-token averages for SimPO, which also
// subtracts γ/β); sigmoid loss with label smoothing ε; plus cpo_alpha × NLL on chosen completions.
import { detach } from '../../engine/autodiff.ts';
import { add, gt, logsigmoid, mean, mul, neg, sub } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { MethodLoss } from './dpo.ts';

export interface CpoOpts { beta?: number; labelSmoothing?: number; cpoAlpha?: number; simpo?: boolean; gamma?: number }

export function cpoLoss(chosen: Tensor, rejected: Tensor, nllChosen: Tensor, o: CpoOpts = {}): MethodLoss {
  const beta = o.beta ?? 0.1, eps = o.labelSmoothing ?? 0;
  const alpha = o.cpoAlpha ?? (o.simpo ? 0 : 1);
  let logits = sub(chosen, rejected);
  if (o.simpo) logits = sub(logits, (o.gamma ?? 0.5) / beta);
  const z = mul(logits, beta);
  const losses = sub(mul(neg(logsigmoid(z)), 1 - eps), mul(logsigmoid(neg(z)), eps));
  const rc = mul(detach(chosen), beta), rr = mul(detach(rejected), beta);
  const metrics: Record<string, Tensor> = {
    'rewards/chosen': mean(rc), 'rewards/rejected': mean(rr), 'rewards/accuracies': mean(gt(rc, rr)),
    'rewards/margins': mean(sub(rc, rr)), 'logps/chosen': mean(detach(chosen)), 'logps/rejected': mean(detach(rejected)),
    nll_loss: detach(nllChosen),
  };
  return { loss: alpha ? add(mean(losses), mul(nllChosen, alpha)) : mean(losses), metrics };
}
