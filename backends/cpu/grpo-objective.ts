// kernels/grpo-objective.ts on the cpu, the same formulas row by row (float64 arithmetic).
import type { GrpoObjectiveParams } from '../backend.ts';

type Data = Float32Array | Float64Array | Int32Array;
export interface GrpoData { lp: Data; old: Data; ref: Data | null; adv: Data; mask: Data; emask: Data | null }

function rowRatio(d: GrpoData, base: number, T: number): { w: number; n: number } {
  let s = 0, n = 0;
  for (let t = 0; t < T; t++) { s += (d.lp[base + t] - d.old[base + t]) * d.mask[base + t]; n += d.mask[base + t]; }
  return { w: s / Math.max(n, 1), n: Math.max(n, 1) };
}

function dclip(c1: number, A: number, p: GrpoObjectiveParams): number {
  const lo = 1 - p.epsLow, hi = 1 + p.epsHigh;
  const c1d = p.delta !== null ? Math.min(c1, p.delta) : c1;
  const a = c1d * A, b = Math.min(Math.max(c1, lo), hi) * A;
  const wa = a < b ? 1 : a === b ? 0.5 : 0;
  const da = p.delta !== null ? (c1 <= p.delta ? A : 0) : A;
  const db = c1 >= lo && c1 <= hi ? A : 0;
  return -(wa * da + (1 - wa) * db);
}

export function grpoObjectiveCpu(d: GrpoData, p: GrpoObjectiveParams, out: Data, stats: Data): void {
  for (let b = 0; b < p.B; b++) {
    const base = b * p.T, A = d.adv[b];
    const sw = p.sequence ? rowRatio(d, base, p.T).w : 0;
    for (let t = 0; t < p.T; t++) {
      const i = base + t, lp = d.lp[i];
      const c1 = Math.exp(p.sequence ? sw : lp - d.old[i]);
      let L: number, high: boolean;
      if (p.cispo) {
        L = -Math.min(c1, p.epsHigh) * A * lp;
        high = c1 > p.epsHigh && A > 0;
      } else {
        const c1d = p.delta !== null ? Math.min(c1, p.delta) : c1;
        L = -Math.min(c1d * A, Math.min(Math.max(c1, 1 - p.epsLow), 1 + p.epsHigh) * A);
        high = c1 > 1 + p.epsHigh && A > 0;
      }
      if (d.emask) L *= d.emask[i];
      let kl = 0;
      if (p.beta !== 0) {
        const dr = d.ref![i] - lp;
        kl = Math.exp(dr) - dr - 1;
        L += p.beta * kl;
      }
      out[i] = L * d.mask[i];
      stats[3 * i] = c1 < 1 - p.epsLow && A < 0 ? 1 : 0;
      stats[3 * i + 1] = high ? 1 : 0;
      stats[3 * i + 2] = kl;
    }
  }
}

export function grpoObjectiveBackwardCpu(d: GrpoData, g: Data, p: GrpoObjectiveParams, dlp: Data): void {
  const e = (i: number) => (d.emask ? d.emask[i] : 1);
  for (let b = 0; b < p.B; b++) {
    const base = b * p.T, A = d.adv[b];
    let sw = 0, n = 1, gsum = 0;
    if (p.sequence) {
      ({ w: sw, n } = rowRatio(d, base, p.T));
      for (let t = 0; t < p.T; t++) gsum += g[base + t] * d.mask[base + t] * e(base + t);
    }
    for (let t = 0; t < p.T; t++) {
      const i = base + t, lp = d.lp[i], m = d.mask[i];
      const c1 = Math.exp(p.sequence ? sw : lp - d.old[i]);
      let v: number;
      if (p.cispo) v = g[i] * m * e(i) * (-Math.min(c1, p.epsHigh) * A);
      else if (p.sequence) v = (gsum * dclip(c1, A, p) * c1 * m) / n;
      else v = g[i] * m * e(i) * dclip(c1, A, p) * c1;
      if (p.beta !== 0) v += g[i] * m * p.beta * (1 - Math.exp(d.ref![i] - lp));
      dlp[i] = v;
    }
  }
}
