// The per-token GRPO objective (kernels/grpo-objective.ts has the formulas), forward and backward,
// each one pass over [B, T] log-probs. The cpu implementation evaluates the same formulas row by row.
import { grpoObjectiveBackwardKernel, grpoObjectiveKernel } from '../../kernels/grpo-objective.ts';
import { rowWorkgroupSize } from '../../kernels/rowstats.ts';
import type { Storage } from '../backend.ts';
import { assertSizes, assertStorages, f32Bits, type CpuData, type CpuRoutineContext, type GpuBinding, type GpuRoutineContext, type Routine } from '../routine.ts';

export interface GrpoObjectiveParams {
  B: number;
  T: number;
  /** Importance sampling per sequence (GSPO) instead of per token. */
  sequence: boolean;
  /** CISPO's −sg(min(ρ, ε_high))·A·logp instead of the clipped surrogate. */
  cispo: boolean;
  epsLow: number;
  epsHigh: number;
  /** Cap on the unclipped ratio, null: none. */
  delta: number | null;
  /** KL coefficient; ref is read only when β ≠ 0. */
  beta: number;
}

interface GrpoData { lp: CpuData; old: CpuData; ref: CpuData | null; adv: CpuData; mask: CpuData; emask: CpuData | null }
type Inputs = [logp: Storage, old: Storage, ref: Storage | null, adv: Storage, mask: Storage, emask: Storage | null];

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

function forward(d: GrpoData, p: GrpoObjectiveParams, out: CpuData, stats: CpuData): void {
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

function backward(d: GrpoData, g: CpuData, p: GrpoObjectiveParams, dlp: CpuData): void {
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

function assertGrpo(op: string, [logp, old, ref, adv, mask, emask]: Inputs, p: GrpoObjectiveParams, grad?: Storage): void {
  assertSizes(op, { B: p.B, T: p.T });
  const bt: [Storage | null, 'f32', number[]] = [null, 'f32', [p.B, p.T]];
  assertStorages(op, {
    logp: [logp, 'f32', bt[2]], old: [old, 'f32', bt[2]], ref: [ref, 'f32', bt[2]], adv: [adv, 'f32', [p.B]], mask: [mask, 'f32', bt[2]],
    emask: [emask, 'f32', bt[2]], grad: [grad ?? null, 'f32', bt[2]],
  });
  for (const k of ['epsLow', 'epsHigh', 'beta'] as const) if (!Number.isFinite(p[k])) throw new Error(`${op}: ${k} ${p[k]} must be finite`);
  if (p.delta !== null && !Number.isFinite(p.delta)) throw new Error(`${op}: delta ${p.delta} must be finite or null`);
  if (p.beta !== 0 && !ref) throw new Error(`${op}: beta ≠ 0 needs ref`);
}

function cpuData(c: CpuRoutineContext, [lp, old, ref, adv, mask, emask]: Inputs): GrpoData {
  return { lp: c.data(lp), old: c.data(old), ref: ref && c.data(ref), adv: c.data(adv), mask: c.data(mask), emask: emask && c.data(emask) };
}

/** The six inputs; an absent ref/emask binds logp in their place (the kernels do not read it). */
function bindInputs(g: GpuRoutineContext, op: string, [logp, old, ref, adv, mask, emask]: Inputs): GpuBinding[] {
  return [g.bind(op, 'logp', logp), g.bind(op, 'old', old), g.bind(op, 'ref', ref ?? logp), g.bind(op, 'adv', adv), g.bind(op, 'mask', mask), g.bind(op, 'emask', emask ?? logp)];
}

function words(p: GrpoObjectiveParams, emask: Storage | null): Record<string, number> {
  return {
    B: p.B, T: p.T, sequence: p.sequence ? 1 : 0, cispo: p.cispo ? 1 : 0, epsLow: f32Bits(p.epsLow), epsHigh: f32Bits(p.epsHigh),
    delta: f32Bits(p.delta ?? 0), hasDelta: p.delta === null ? 0 : 1, beta: f32Bits(p.beta), hasEmask: emask ? 1 : 0,
  };
}

/**
 * logp, old, mask, emask (null: 1) [B, T], ref [B, T] (null when β = 0), adv [B] →
 * loss [B, T] (masked per-token loss), stats [B, T, 3] (low clip, high clip, kl per token).
 */
export const grpoObjective: Routine<[...Inputs, p: GrpoObjectiveParams], { loss: Storage; stats: Storage }> = {
  name: 'grpoObjective',
  assert: (logp, old, ref, adv, mask, emask, p) => assertGrpo('grpoObjective', [logp, old, ref, adv, mask, emask], p),
  cpu(c, logp, old, ref, adv, mask, emask, p) {
    const loss = c.alloc(p.B * p.T, 'f32'), stats = c.alloc(p.B * p.T * 3, 'f32');
    forward(cpuData(c, [logp, old, ref, adv, mask, emask]), p, c.data(loss), c.data(stats));
    return { loss, stats };
  },
  webgpu(g, logp, old, ref, adv, mask, emask, p) {
    const op = 'grpoObjective';
    const loss = g.alloc(p.B * p.T, 'f32', op), stats = g.alloc(p.B * p.T * 3, 'f32', op);
    if (p.B * p.T === 0) return { loss, stats };
    g.runGrid(op, grpoObjectiveKernel(rowWorkgroupSize(p.T)),
      [...bindInputs(g, op, [logp, old, ref, adv, mask, emask]), g.bind(op, 'loss', loss), g.bind(op, 'stats', stats)], words(p, emask), p.B);
    return { loss, stats };
  },
};

/** d Σ(grad · loss) / d logp [B, T] of grpoObjective, grad [B, T]. */
export const grpoObjectiveBackward: Routine<[...Inputs, grad: Storage, p: GrpoObjectiveParams], Storage> = {
  name: 'grpoObjectiveBackward',
  assert: (logp, old, ref, adv, mask, emask, grad, p) => assertGrpo('grpoObjectiveBackward', [logp, old, ref, adv, mask, emask], p, grad),
  cpu(c, logp, old, ref, adv, mask, emask, grad, p) {
    const out = c.alloc(p.B * p.T, 'f32');
    backward(cpuData(c, [logp, old, ref, adv, mask, emask]), c.data(grad), p, c.data(out));
    return out;
  },
  webgpu(g, logp, old, ref, adv, mask, emask, grad, p) {
    const op = 'grpoObjectiveBackward';
    const out = g.alloc(p.B * p.T, 'f32', op);
    if (p.B * p.T === 0) return out;
    g.runGrid(op, grpoObjectiveBackwardKernel(rowWorkgroupSize(p.T)),
      [...bindInputs(g, op, [logp, old, ref, adv, mask, emask]), g.bind(op, 'grad', grad), g.bind(op, 'out', out)], words(p, emask), p.B);
    return out;
  },
};
