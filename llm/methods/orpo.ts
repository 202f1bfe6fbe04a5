// ORPO (Hong et al. 2024) as TRL 1.x's ORPOTrainer.odds_ratio_loss: with per-token-averaged
// log-probabilities lp,  log_odds = (lp_c − lp_r) − (log(1 − e^lp_c) − log(1 − e^lp_r)),
// loss = NLL(chosen) − β · mean(logσ(log_odds)).  Rewards are β·lp (no reference model).
import { detach } from '../../engine/autodiff.ts';
import { gt, logsigmoid, mean, mul, sub } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { MethodLoss } from './dpo.ts';
import { log1mexp } from './log1mexp.ts';

export function orpoLoss(avgChosen: Tensor, avgRejected: Tensor, nllChosen: Tensor, opts: { beta?: number } = {}): MethodLoss {
  const beta = opts.beta ?? 0.1;
  const logOdds = sub(sub(avgChosen, avgRejected), sub(log1mexp(avgChosen), log1mexp(avgRejected)));
  const ratio = logsigmoid(logOdds);
  const rc = mul(detach(avgChosen), beta), rr = mul(detach(avgRejected), beta);
  return {
    loss: sub(nllChosen, mul(mean(ratio), beta)),
    metrics: {
      'rewards/chosen': mean(rc), 'rewards/rejected': mean(rr), 'rewards/accuracies': mean(gt(rc, rr)),
      'rewards/margins': mean(sub(rc, rr)), 'logps/chosen': mean(detach(avgChosen)), 'logps/rejected': mean(detach(avgRejected)),
      nll_loss: detach(nllChosen), log_odds_ratio: mean(detach(ratio)), log_odds_chosen: mean(detach(logOdds)),
    },
  };
}
