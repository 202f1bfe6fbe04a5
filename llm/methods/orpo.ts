// ORPO (Hong et al. 2024) as TRL 1.x's ORPOTrainer.odds_ratio_loss: with per-token-averaged
// log-probabilities lp,  log_odds = (lp_c − lp_r) − (log(1 − e^lp_c) − log(1 − e^lp_r)),
// loss = NLL(chosen) − β · mean(logσ(log_odds)).  Rewards are β·lp (no reference model).
import { detach } from '../../engine/autodiff.ts';
import { elementwise, expr as X, fused, gt, mean, mul, sub, unaryOps } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { MethodLoss } from './dpo.ts';

type Expr = X.Expr;
const { log1mexp, logsigmoid } = { log1mexp: unaryOps.log1mexp.f, logsigmoid: unaryOps.logsigmoid.f };
const logOddsOf = (c: Expr, r: Expr) => X.sub(X.sub(c, r), X.sub(log1mexp(c), log1mexp(r)));

export function orpoLoss(avgChosen: Tensor, avgRejected: Tensor, nllChosen: Tensor, opts: { beta?: number } = {}): MethodLoss {
  const beta = opts.beta ?? 0.1;
  // logσ(log_odds) in one kernel each way; the log-odds themselves only feed a metric.
  const ratio = fused('orpo', [avgChosen, avgRejected], (c, r) => logsigmoid(logOddsOf(c, r)));
  const [logOdds] = elementwise('orpo log-odds', [avgChosen, avgRejected], (c, r) => [logOddsOf(c, r)]);
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
