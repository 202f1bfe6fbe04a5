// ORPO, CPO/SimPO, KTO and log1mexp against the formulas evaluated in float64 here: loss values,
// and gradients against central differences of those float64 formulas.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { cpoLoss } from '../../llm/methods/cpo.ts';
import { ktoLoss } from '../../llm/methods/kto.ts';
import { log1mexp } from '../../engine/ops/index.ts';
import { orpoLoss } from '../../llm/methods/orpo.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

const logsig = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
const l1me = (x: number) => Math.log(-Math.expm1(x));

/** Central differences of f at each element of each argument (float64). */
function numGrad(f: (...a: number[][]) => number, args: number[][]): number[][] {
  const h = 1e-6;
  return args.map((a, k) => a.map((_, i) => {
    const up = args.map((b) => [...b]), dn = args.map((b) => [...b]);
    up[k][i] += h; dn[k][i] -= h;
    return (f(...up) - f(...dn)) / (2 * h);
  }));
}

async function check(backend: w.Backend, f64: (...a: number[][]) => number, engine: (...t: w.Tensor[]) => w.Tensor, args: number[][]) {
  const ts = args.map((a) => w.tensor(a, [a.length], { backend }));
  const { value, grads } = w.valueAndGrad((...t: w.Tensor[]) => engine(...t))(...ts);
  expect(await value.item()).toBeCloseTo(f64(...args), 5);
  const ng = numGrad(f64, args);
  for (let k = 0; k < args.length; k++) allClose(await (grads[k] as w.Tensor).data(), ng[k], { atol: 2e-5, rtol: 1e-4, label: `d/d arg ${k}` });
}

const avgC = [-0.9, -0.05, -2.5, -0.7], avgR = [-1.4, -0.3, -2.0, -0.6], nll = [1.3];

for (const { name, get } of testBackends()) {
  describe(`preference losses on ${name}`, () => {
    it('log1mexp is accurate next to 0, around −ln 2 and far out', async () => {
      const xs = [-1e-6, -1e-3, -0.1, -0.6931, -0.6932, -1, -5, -30];
      const got = await log1mexp(w.tensor(xs, [xs.length], { backend: await get() })).data();
      allClose(got, xs.map(l1me), { atol: 1e-6, rtol: 2e-6 });
    });

    it('ORPO: NLL − β·mean logσ(log odds)', async () => {
      const beta = 0.25;
      const f = (c: number[], r: number[], n: number[]) =>
        n[0] - beta * mean(c.map((ci, i) => logsig((ci - r[i]) - (l1me(ci) - l1me(r[i])))));
      await check(await get(), f, (c, r, n) => orpoLoss(c, r, w.reshape(n, []), { beta }).loss, [avgC, avgR, nll]);
    });

    it('CPO (sigmoid, label smoothing, cpo_alpha) and SimPO (γ/β margin, no NLL)', async () => {
      const beta = 0.5, eps = 0.1;
      const cpo = (c: number[], r: number[], n: number[]) =>
        mean(c.map((ci, i) => -(1 - eps) * logsig(beta * (ci - r[i])) - eps * logsig(-beta * (ci - r[i])))) + 0.7 * n[0];
      await check(await get(), cpo, (c, r, n) => cpoLoss(c, r, w.reshape(n, []), { beta, labelSmoothing: eps, cpoAlpha: 0.7 }).loss, [avgC, avgR, nll]);
      const gamma = 0.5, b2 = 2;
      const simpo = (c: number[], r: number[]) => mean(c.map((ci, i) => -logsig(b2 * (ci - r[i] - gamma / b2))));
      const backend = await get();
      await check(backend, simpo, (c, r) => cpoLoss(c, r, w.zeros([], { backend }), { beta: b2, simpo: true, gamma }).loss, [avgC, avgR]);
    });

    it('KTO: detached clamped KL, desirable and undesirable weights', async () => {
      const beta = 0.3, wd = 1.5, wu = 0.8;
      const c = [-10, -12.5], rc = [-11, -12], r = [-9, -14, -7], rr = [-9.5, -13, -8], kl = [-20, -18.5, -19], rkl = [-20.4, -18.2, -19.9];
      const z = Math.max(0, mean(kl.map((v, i) => v - rkl[i])));
      const f = (c_: number[], r_: number[]) => mean([
        ...c_.map((v, i) => wd * (1 - sig(beta * ((v - rc[i]) - z)))),
        ...r_.map((v, i) => wu * (1 - sig(beta * (z - (v - rr[i]))))),
      ]);
      const backend = await get();
      const t = (v: number[]) => w.tensor(v, [v.length], { backend });
      await check(backend, f, (cc, r_) => ktoLoss({ chosen: cc, refChosen: t(rc), rejected: r_, refRejected: t(rr), kl: t(kl), refKl: t(rkl) },
        { beta, desirableWeight: wd, undesirableWeight: wu }).loss, [c, r]);
      const { metrics } = ktoLoss({ chosen: t(c), refChosen: t(rc), rejected: t(r), refRejected: t(rr), kl: t(kl), refKl: t(rkl) }, { beta });
      expect(await metrics.kl.item()).toBeCloseTo(z, 5);
    });
  });
}
