// GRPO: advantages, every loss type at both importance-sampling levels, KL and the clip/entropy
// metrics against a float64 evaluation written here from TRL's _compute_loss, and gradients against
// central finite differences of that evaluation (cpu, cpu-f64, WebGPU).
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { grpoLoss, highEntropyMask, type GrpoLossOpts, type GrpoLossType } from '../../llm/methods/grpo.ts';
import { groupAdvantages, nanstd } from '../../llm/methods/grpo-advantages.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

const B = 3, T = 4;
// Log-ratios up to ±0.45 so both clip bounds are crossed; the last sequence is one token long.
const logp = [[-1.2, -0.4, -2.0, -0.9], [-0.3, -1.7, -0.8, -1.1], [-0.6, -2.2, -1.4, -0.5]];
const old = [[-1.5, -0.45, -1.6, -0.9], [-0.1, -1.7, -1.25, -0.7], [-0.55, -2.0, -1.0, -0.95]];
const ref = [[-1.0, -0.5, -2.3, -1.0], [-0.35, -1.5, -0.9, -1.3], [-0.7, -2.0, -1.2, -0.6]];
const mask = [[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]];
const adv = [0.8, -1.1, 0.5];
const ent = [[0.3, 1.2, 0.7, 2.0], [0.1, 0.9, 1.5, 0.4], [1.1, 0.2, 0.6, 0.8]];

interface RefOpts { type: GrpoLossType; level: 'token' | 'sequence'; beta: number; eps: number; epsHigh: number; delta?: number; maxLen: number; items?: number; emask?: number[][] }

/**
 * TRL's _compute_loss in float64 on plain arrays; lp is the policy log-probs [B][T]. cispo's clamped
 * ratio is detached in TRL: it is evaluated at `frozen` (the unperturbed log-probs) when given.
 */
function reference(lp: number[][], o: RefOpts, frozen = lp) {
  const ratios = (x: number[][]) => {
    const lr = x.map((r, b) => r.map((v, t) => v - old[b][t]));
    const cnt = mask.map((r) => r.reduce((s, v) => s + v, 0));
    const seqW = lr.map((r, b) => r.reduce((s, v, t) => s + v * mask[b][t], 0) / Math.max(cnt[b], 1));
    return lr.map((r, b) => r.map((v) => Math.exp(o.level === 'token' ? v : seqW[b])));
  };
  const coef1 = ratios(lp), coefFrozen = ratios(frozen);
  const cnt = mask.map((r) => r.reduce((s, v) => s + v, 0));
  const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);
  const kl = lp.map((r, b) => r.map((v, t) => Math.exp(ref[b][t] - v) - (ref[b][t] - v) - 1));
  const L = lp.map((r, b) => r.map((v, t) => {
    const c1 = coef1[b][t], A = adv[b];
    let l: number;
    if (o.type === 'cispo') l = -Math.min(coefFrozen[b][t], o.epsHigh) * A * v;
    else {
      const c2 = clamp(c1, 1 - o.eps, 1 + o.epsHigh);
      const c1d = o.delta !== undefined ? Math.min(c1, o.delta) : c1;
      l = -Math.min(c1d * A, c2 * A);
    }
    if (o.emask) l *= o.emask[b][t];
    return l + o.beta * kl[b][t];
  }));
  const sumLm = L.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * mask[b][t], 0), 0);
  const tokens = cnt.reduce((s, v) => s + v, 0);
  let loss: number;
  switch (o.type) {
    case 'grpo': loss = L.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * mask[b][t], 0) / Math.max(cnt[b], 1), 0) / B; break;
    case 'bnpo': loss = sumLm / Math.max(tokens, 1); break;
    case 'dr_grpo': loss = sumLm / (B * o.maxLen); break;
    default: loss = sumLm / Math.max(o.items ?? tokens, 1);
  }
  // Metrics: the value of a sequence-level ratio is one per sequence.
  const per = (f: (c: number, A: number) => boolean) => coef1.map((r, b) => r.map((c) => +f(c, adv[b])));
  const gmean = (x: number[][]) => (o.level === 'sequence'
    ? x.reduce((s, r) => s + r[0], 0) / B
    : x.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * mask[b][t], 0), 0) / tokens);
  const seqMean = (x: number[][]) => x.map((r, b) => (o.level === 'sequence' ? r[0] : r.reduce((u, v, t) => u + v * mask[b][t], 0) / cnt[b]));
  const metrics: Record<string, number> = {
    entropy: ent.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * mask[b][t], 0), 0) / tokens,
  };
  if (o.beta) metrics.kl = kl.reduce((s, r, b) => s + r.reduce((u, v, t) => u + v * mask[b][t], 0), 0) / tokens;
  if (o.type === 'cispo') metrics.cispo_clip_ratio = gmean(per((c, A) => c > o.epsHigh && A > 0));
  else {
    const low = per((c, A) => c < 1 - o.eps && A < 0), high = per((c, A) => c > 1 + o.epsHigh && A > 0);
    Object.assign(metrics, {
      'clip_ratio/low_mean': gmean(low), 'clip_ratio/high_mean': gmean(high),
      'clip_ratio/region_mean': gmean(low.map((r, b) => r.map((v, t) => Math.max(v, high[b][t])))),
      'clip_ratio/low_min': Math.min(...seqMean(low)), 'clip_ratio/high_max': Math.max(...seqMean(high)),
    });
  }
  return { loss, metrics };
}

/** Central differences of the float64 reference loss with respect to each policy log-prob. */
function fdGrad(o: RefOpts): number[] {
  const h = 1e-6;
  return logp.flatMap((r, b) => r.map((_, t) => {
    const at = (d: number) => reference(logp.map((rr, bb) => rr.map((v, tt) => (bb === b && tt === t ? v + d : v))), o, logp).loss;
    return (at(h) - at(-h)) / (2 * h);
  }));
}

const cases: [string, RefOpts][] = [
  ['grpo token β 0.04', { type: 'grpo', level: 'token', beta: 0.04, eps: 0.2, epsHigh: 0.2, maxLen: 4 }],
  ['grpo sequence', { type: 'grpo', level: 'sequence', beta: 0, eps: 0.2, epsHigh: 0.2, maxLen: 4 }],
  ['bnpo token ε_high 0.28', { type: 'bnpo', level: 'token', beta: 0, eps: 0.2, epsHigh: 0.28, maxLen: 4 }],
  ['bnpo sequence β 0.1', { type: 'bnpo', level: 'sequence', beta: 0.1, eps: 0.2, epsHigh: 0.2, maxLen: 4 }],
  ['dr_grpo token', { type: 'dr_grpo', level: 'token', beta: 0, eps: 0.2, epsHigh: 0.2, maxLen: 6 }],
  ['dr_grpo sequence β 0.04', { type: 'dr_grpo', level: 'sequence', beta: 0.04, eps: 0.1, epsHigh: 0.3, maxLen: 6 }],
  ['dapo token δ 1.25, 20 items', { type: 'dapo', level: 'token', beta: 0, eps: 0.2, epsHigh: 0.2, delta: 1.25, maxLen: 4, items: 20 }],
  ['dapo sequence β 0.04', { type: 'dapo', level: 'sequence', beta: 0.04, eps: 0.2, epsHigh: 0.28, maxLen: 4 }],
  ['cispo token ε_high 1.1', { type: 'cispo', level: 'token', beta: 0, eps: 0.2, epsHigh: 1.1, maxLen: 4 }],
  ['cispo sequence β 0.04', { type: 'cispo', level: 'sequence', beta: 0.04, eps: 0.2, epsHigh: 1.05, maxLen: 4 }],
  ['dapo token, top-entropy mask', { type: 'dapo', level: 'token', beta: 0.04, eps: 0.2, epsHigh: 0.2, maxLen: 4, emask: highEntropyMask(ent, mask, 0.5) }],
];

const toOpts = (o: RefOpts): GrpoLossOpts => ({
  lossType: o.type, importanceSamplingLevel: o.level, beta: o.beta, epsilon: o.eps, epsilonHigh: o.epsHigh,
  delta: o.delta ?? null, maxCompletionLength: o.maxLen, numItemsInBatch: o.items,
});

for (const { name, get } of testBackends()) {
  describe(`GRPO loss on ${name}`, () => {
    const tol = name === 'cpu-f64' ? { atol: 1e-7, rtol: 1e-6 } : { atol: 2e-5, rtol: 2e-4 };
    for (const [label, o] of cases) for (const fused of [true, false]) {
      it(`${label} (${fused ? 'fused kernel' : 'composed ops'}): loss, gradient and metrics`, async () => {
        const backend = await get();
        const t2 = (v: number[][]) => w.tensor(v.flat(), [v.length, v[0].length], { backend });
        let metrics: Record<string, w.Tensor> = {};
        const { value, grads } = w.valueAndGrad((lp: w.Tensor) => {
          const out = grpoLoss({
            logps: lp, oldLogps: t2(old), refLogps: t2(ref), advantages: w.tensor(adv, [B], { backend }), mask: t2(mask),
            entropies: t2(ent), entropyMask: o.emask ? t2(o.emask) : null,
          }, { ...toOpts(o), fused });
          metrics = out.metrics;
          return out.loss;
        })(t2(logp));
        const want = reference(logp, o);
        allClose([await value.item()], [want.loss], { ...tol, label: 'loss' });
        allClose(await (grads[0] as w.Tensor).data(), fdGrad(o), { atol: name === 'cpu-f64' ? 1e-7 : 2e-5, rtol: 1e-4, label: 'd loss / d logp' });
        expect(Object.keys(metrics).sort()).toEqual(Object.keys(want.metrics).sort());
        for (const [k, v] of Object.entries(want.metrics)) allClose([await metrics[k].item()], [v], { ...tol, label: k });
      });
    }

    it('μ = 1 (old = logp detached): ratio 1 and the gradient is the plain policy gradient −A·m / normaliser', async () => {
      const backend = await get();
      const t2 = (v: number[][]) => w.tensor(v.flat(), [B, T], { backend });
      const cnt = mask.map((r) => r.reduce((s, v) => s + v, 0)), tokens = cnt.reduce((s, v) => s + v, 0);
      for (const [type, norm] of [['dapo', () => tokens], ['grpo', (b: number) => B * cnt[b]]] as const) for (const fused of [true, false]) {
        const { value, grads } = w.valueAndGrad((lp: w.Tensor) =>
          grpoLoss({ logps: lp, advantages: w.tensor(adv, [B], { backend }), mask: t2(mask) }, { lossType: type, fused }).loss)(t2(logp));
        const pg = mask.flatMap((r, b) => r.map((m) => (-adv[b] * m) / norm(b)));
        allClose(await (grads[0] as w.Tensor).data(), pg, { atol: 1e-6, rtol: 1e-5, label: `${type} gradient` });
        const lossWant = type === 'dapo' ? -mask.reduce((s, r, b) => s + adv[b] * cnt[b], 0) / tokens : -adv.reduce((s, a) => s + a, 0) / B;
        allClose([await value.item()], [lossWant], { atol: 1e-6, rtol: 1e-5, label: `${type} loss` });
      }
    });
  });
}

describe('GRPO advantages (TRL sum_then_normalize)', () => {
  const rpf = [[1, 0.5], [0, null], [1, 1], [null, null], [0, 0], [0, 0], [0, 0], [2, 0]];
  it('group scaling: weighted sum, nanmean baseline, Bessel std + 1e-4, unscorable → 0', () => {
    const { advantages, rewards, std } = groupAdvantages(rpf, [1, 0.5], 4, 'group');
    expect(rewards.slice(0, 3)).toEqual([1.25, 0, 1.5]);
    expect(Number.isNaN(rewards[3])).toBe(true);
    const g1 = [1.25, 0, 1.5], m1 = (1.25 + 1.5) / 3, s1 = Math.sqrt(g1.reduce((s, x) => s + (x - m1) ** 2, 0) / 2);
    allClose(advantages.slice(0, 4), [...g1.map((x) => (x - m1) / (s1 + 1e-4)), 0], { atol: 1e-12, rtol: 1e-12 });
    const g2 = [0, 0, 0, 2], m2 = 0.5, s2 = Math.sqrt(g2.reduce((s, x) => s + (x - m2) ** 2, 0) / 3);
    allClose(advantages.slice(4), g2.map((x) => (x - m2) / (s2 + 1e-4)), { atol: 1e-12, rtol: 1e-12 });
    expect(std[0]).toBeCloseTo(s1, 12);
  });
  it('batch scaling divides by the whole batch std; none only centres', () => {
    const b = groupAdvantages(rpf, [1, 0.5], 4, 'batch');
    const s = nanstd(b.rewards);
    expect(b.advantages[7]).toBeCloseTo((2 - 0.5) / (s + 1e-4), 12);
    const n = groupAdvantages(rpf, [1, 0.5], 4, 'none');
    expect(n.advantages[7]).toBeCloseTo(1.5, 12);
    expect(n.advantages[3]).toBe(0);
    expect(() => groupAdvantages(rpf, [1, 0.5], 3, 'group')).toThrow(/8 completions are not groups of 3/);
  });
  it('top-entropy mask: torch.quantile (linear) of the masked entropies, ≥ threshold', () => {
    // masked entropies sorted: 0.1 0.3 0.4 0.7 0.9 1.1 1.2 1.5 → q 0.5 at position 3.5: (0.7 + 0.9) / 2 = 0.8
    expect(highEntropyMask(ent, mask, 0.5)).toEqual([[0, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0]]);
  });
});
