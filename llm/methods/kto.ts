// KTO (Ethayarajh et al. 2024) as TRL 1.x's KTOTrainer.kto_loss: z = max(0, mean(logπ_KL − logπref_KL))
// from mismatched prompt/completion pairs, detached; desirable examples 1 − σ(β(r − z)), undesirable
// 1 − σ(β(z − r)) with r the policy/reference log-ratio; weighted; mean over all examples.
import { detach } from '../../engine/autodiff.ts';
import { concat, expr as X, fused, maximum, mean, mul, sub } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { MethodLoss } from './dpo.ts';

export interface KtoInputs {
  chosen: Tensor; refChosen: Tensor; // desirable examples [nd]
  rejected: Tensor; refRejected: Tensor; // undesirable examples [nu]
  kl: Tensor; refKl: Tensor; // mismatched pairs [nk]
}

export function ktoLoss(x: KtoInputs, o: { beta?: number; desirableWeight?: number; undesirableWeight?: number } = {}): MethodLoss {
  const beta = o.beta ?? 0.1;
  const z = detach(maximum(mean(sub(x.kl, x.refKl)), 0));
  const rC = sub(x.chosen, x.refChosen), rR = sub(x.rejected, x.refRejected);
  const parts: Tensor[] = [];
  // w·(1 − σ(β·(±(logπ − logπref) ∓ z))), one kernel each way per side.
  const side = (name: string, lp: Tensor, ref: Tensor, sign: 1 | -1, weight: number) =>
    fused(name, [lp, ref, z], (p, q, kl) => X.mul(X.sub(1, X.sigmoid(X.mul(X.mul(X.sub(X.sub(p, q), kl), sign), beta))), weight));
  if (x.chosen.size) parts.push(side('kto desirable', x.chosen, x.refChosen, 1, o.desirableWeight ?? 1));
  if (x.rejected.size) parts.push(side('kto undesirable', x.rejected, x.refRejected, -1, o.undesirableWeight ?? 1));
  if (!parts.length) throw new Error('kto: the batch holds neither desirable nor undesirable examples');
  const metrics: Record<string, Tensor> = { kl: z };
  if (x.chosen.size) { metrics['rewards/chosen'] = mean(mul(detach(rC), beta)); metrics['logps/chosen'] = mean(detach(x.chosen)); }
  if (x.rejected.size) { metrics['rewards/rejected'] = mean(mul(detach(rR), beta)); metrics['logps/rejected'] = mean(detach(x.rejected)); }
  return { loss: mean(concat(parts, 0)), metrics };
}
