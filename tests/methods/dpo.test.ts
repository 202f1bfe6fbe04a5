// DPO losses, gradients and metrics against values derived by hand in float64 from the formulas,
// and sequence log-probabilities against a direct log-softmax sum.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { dpoLoss, type DpoLossType } from '../../llm/methods/dpo.ts';
import { sequenceLogprobs } from '../../llm/methods/logprobs.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

const pc = [-12.5, -30.25, -7], pr = [-14, -29.5, -9.75], rc = [-13, -30, -8.5], rr = [-13.5, -30.5, -9];
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const logsig = (x: number) => -Math.log1p(Math.exp(-x));

/** Expected mean loss and dL/dπ_c per pair (dL/dπ_r is its negative) for each loss type. */
function expected(type: DpoLossType, beta: number, eps: number) {
  const n = pc.length;
  const d = pc.map((_, i) => (pc[i] - rc[i]) - (pr[i] - rr[i]));
  const z = d.map((x) => beta * x);
  const loss = z.map((zi, i) => {
    switch (type) {
      case 'sigmoid': return -(1 - eps) * logsig(zi) - eps * logsig(-zi);
      case 'robust': return (-(1 - eps) * logsig(zi) + eps * logsig(-zi)) / (1 - 2 * eps);
      case 'hinge': return Math.max(0, 1 - zi);
      case 'ipo': return (d[i] - 1 / (2 * beta)) ** 2;
    }
  });
  const grad = z.map((zi, i) => {
    switch (type) {
      case 'sigmoid': return (beta * (-(1 - eps) * sig(-zi) + eps * sig(zi))) / n;
      case 'robust': return (beta * (-(1 - eps) * sig(-zi) - eps * sig(zi))) / ((1 - 2 * eps) * n);
      case 'hinge': return 1 - zi > 0 ? -beta / n : 0;
      case 'ipo': return (2 * (d[i] - 1 / (2 * beta))) / n;
    }
  });
  return { loss: loss.reduce((a, b) => a + b, 0) / n, grad };
}

for (const { name, get } of testBackends()) {
  describe(`DPO on ${name}`, () => {
    const cases: [DpoLossType, number, number][] = [['sigmoid', 0.1, 0], ['sigmoid', 0.5, 0.1], ['robust', 0.2, 0.2], ['hinge', 0.5, 0], ['ipo', 0.1, 0]];
    for (const [type, beta, eps] of cases) {
      it(`${type} (β ${beta}, ε ${eps}): loss and gradients`, async () => {
        const backend = await get();
        const t = (v: number[]) => w.tensor(v, [v.length], { backend });
        const { value, grads } = w.valueAndGrad((c: w.Tensor, r: w.Tensor) =>
          dpoLoss({ chosen: c, rejected: r, refChosen: t(rc), refRejected: t(rr) }, { beta, lossType: type, labelSmoothing: eps }).loss)(t(pc), t(pr));
        const e = expected(type, beta, eps);
        expect(await value.item()).toBeCloseTo(e.loss, 5);
        allClose(await (grads[0] as w.Tensor).data(), e.grad, { atol: 1e-6, rtol: 1e-5, label: 'd/d chosen' });
        allClose(await (grads[1] as w.Tensor).data(), e.grad.map((g) => -g), { atol: 1e-6, rtol: 1e-5, label: 'd/d rejected' });
      });
    }

    it('metrics: rewards are β·log-ratios, accuracies strict, margins and logps are means', async () => {
      const backend = await get();
      const t = (v: number[]) => w.tensor(v, [v.length], { backend });
      const { metrics } = dpoLoss({ chosen: t(pc), rejected: t(pr), refChosen: t(rc), refRejected: t(rr) }, { beta: 0.1 });
      const rewC = pc.map((v, i) => 0.1 * (v - rc[i])), rewR = pr.map((v, i) => 0.1 * (v - rr[i]));
      const m = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      const want: Record<string, number> = {
        'rewards/chosen': m(rewC), 'rewards/rejected': m(rewR), 'rewards/accuracies': m(rewC.map((c, i) => +(c > rewR[i]))),
        'rewards/margins': m(rewC.map((c, i) => c - rewR[i])), 'logps/chosen': m(pc), 'logps/rejected': m(pr),
      };
      for (const [k, v] of Object.entries(want)) expect(await metrics[k].item(), k).toBeCloseTo(v, 5);
      expect(() => dpoLoss({ chosen: t(pc), rejected: t(pr), refChosen: t(rc), refRejected: t(rr) }, { lossType: 'kto' as DpoLossType })).toThrow(/unknown loss type "kto"/);
    });

    it('sequence log-probabilities sum log_softmax at the next token over completion positions only', async () => {
      const backend = await get();
      const B = 2, T = 4, V = 5;
      const logits = Array.from({ length: B * T * V }, (_, i) => Math.sin(i * 1.7) * 3);
      const labels = [[-100, -100, 3, 1], [-100, 4, 0, -100]];
      const { sum, count } = sequenceLogprobs(w.tensor(logits, [B, T, V], { backend }), w.tensor(Int32Array.from(labels.flat()), [B, T], { backend }));
      const want = labels.map((row, b) => {
        let s = 0;
        for (let t = 0; t + 1 < T; t++) {
          const y = row[t + 1];
          if (y === -100) continue;
          const z = logits.slice((b * T + t) * V, (b * T + t + 1) * V);
          const mx = Math.max(...z);
          s += z[y] - mx - Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
        }
        return s;
      });
      allClose(await sum.data(), want, { atol: 1e-5, rtol: 1e-5 });
      expect(Array.from(await count.data())).toEqual([2, 2]);
    });
  });
}
