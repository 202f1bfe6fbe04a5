// The per-token GRPO objective of TRL 1.x (_compute_loss) in one pass over [B, T] log-probs, and
// its gradient with respect to the policy log-probs in one more. The normalisations (grpo, bnpo,
// dr_grpo, dapo) are sums over OUT done by the caller.
//
// Forward: LP, OLD, REF [B, T] (REF read only when beta ≠ 0), ADV [B], MASK, EMASK [B, T] (EMASK read
// only when hasEmask) → OUT [B, T], STATS [B, T, 3]:
//   w   = LP − OLD (token level)  |  Σ_t (LP − OLD)·MASK / max(Σ_t MASK, 1) (sequence level, one per row)
//   c1  = exp(w)
//   clip:  L = −min(c1'·A, clamp(c1, 1 − ε, 1 + ε_h)·A),  c1' = min(c1, δ) when hasDelta
//   cispo: L = −min(c1, ε_h)·A·LP        (the min is a constant for the gradient)
//   L ·= EMASK;  kl = exp(REF − LP) − (REF − LP) − 1;  L += β·kl;  OUT = L·MASK
//   STATS = (c1 < 1 − ε ∧ A < 0,  clip: c1 > 1 + ε_h ∧ A > 0 | cispo: c1 > ε_h ∧ A > 0,  kl)
// Backward: the same inputs and G = dLoss/dOUT [B, T] → DLP [B, T]:
//   clip, d L/d c1 = −(a·A·[c1 ≤ δ] + (1 − a)·A·[1 − ε ≤ c1 ≤ 1 + ε_h]), a = 1, ½, 0 as c1'·A <, =, > c2·A
//   (torch.minimum splits ties; torch.clamp passes the gradient at its bounds)
//   token:    DLP = G·MASK·(EMASK·dL/dc1·c1 + β·(1 − exp(REF − LP)))
//   sequence: DLP = (Σ_t G·MASK·EMASK)·dL/dc1·c1·MASK / max(Σ_t MASK, 1) + G·MASK·β·(1 − exp(REF − LP))
//   cispo:    the dL/dc1·c1 term becomes −min(c1, ε_h)·A (no sequence sum).
// One workgroup per row, threads striding over T. Bindings: 0 LP, 1 OLD, 2 REF, 3 ADV, 4 MASK, 5 EMASK,
// forward 6 OUT, 7 STATS, 8 uniform | backward 6 G, 7 DLP, 8 uniform; uniform { B, T, sequence,
// cispo, epsLow, epsHigh, delta, hasDelta, beta, hasEmask } (floats as f32 bits). Dispatch: B workgroups, folded.
import { LINEAR_WORKGROUP, type Kernel, uniformBlock } from './wgsl.ts';

const PARAMS = ['B', 'T', 'sequence', 'cispo', 'epsLow', 'epsHigh', 'delta', 'hasDelta', 'beta', 'hasEmask'];

function common(wg: number, backward: boolean): string {
  return `@group(0) @binding(0) var<storage, read> LP: array<f32>;
@group(0) @binding(1) var<storage, read> OLD: array<f32>;
@group(0) @binding(2) var<storage, read> REF: array<f32>;
@group(0) @binding(3) var<storage, read> ADV: array<f32>;
@group(0) @binding(4) var<storage, read> MASK: array<f32>;
@group(0) @binding(5) var<storage, read> EMASK: array<f32>;
${backward
    ? `@group(0) @binding(6) var<storage, read> G: array<f32>;
@group(0) @binding(7) var<storage, read_write> DLP: array<f32>;`
    : `@group(0) @binding(6) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(7) var<storage, read_write> STATS: array<f32>;`}
${uniformBlock(PARAMS, 8)}
var<workgroup> s1: array<f32, ${wg}>;
var<workgroup> s2: array<f32, ${wg}>;

fn f_(bits: u32) -> f32 { return bitcast<f32>(bits); }
fn emask_(i: u32) -> f32 { return select(1.0, EMASK[i], P.hasEmask != 0u); }

/** Row sums of two values over the workgroup (same result in every thread). */
fn sum2_(lid: u32, a: f32, b: f32) -> vec2<f32> {
  workgroupBarrier();
  s1[lid] = a;
  s2[lid] = b;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { s1[lid] = s1[lid] + s1[lid + k]; s2[lid] = s2[lid] + s2[lid + k]; }
    workgroupBarrier();
  }
  return vec2<f32>(s1[0], s2[0]);
}

/** The sequence-level log-ratio of row \`base\` (0 at token level, unused). */
fn seq_w_(lid: u32, base: u32) -> vec2<f32> {
  var s = 0.0;
  var n = 0.0;
  for (var t = lid; t < P.T; t = t + ${wg}u) {
    let m = MASK[base + t];
    s = s + (LP[base + t] - OLD[base + t]) * m;
    n = n + m;
  }
  let r = sum2_(lid, s, n);
  return vec2<f32>(r.x / max(r.y, 1.0), max(r.y, 1.0));
}

/** d L / d c1 of the clipped objective. */
fn dclip_(c1: f32, A: f32) -> f32 {
  let lo = 1.0 - f_(P.epsLow);
  let hi = 1.0 + f_(P.epsHigh);
  let c1d = select(c1, min(c1, f_(P.delta)), P.hasDelta != 0u);
  let c2 = min(max(c1, lo), hi);
  let a = c1d * A;
  let b = c2 * A;
  let wa = select(select(0.0, 0.5, a == b), 1.0, a < b);
  let da = select(A, select(0.0, A, c1 <= f_(P.delta)), P.hasDelta != 0u);
  let db = select(0.0, A, c1 >= lo && c1 <= hi);
  return -(wa * da + (1.0 - wa) * db);
}`;
}

export function grpoObjectiveKernel(wg: number): Kernel {
  const code = `${common(wg, false)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.B) { return; }
  let base = w * P.T;
  let A = ADV[w];
  var sw = 0.0;
  if (P.sequence != 0u) { sw = seq_w_(lid, base).x; }
  let beta = f_(P.beta);
  for (var t = lid; t < P.T; t = t + ${wg}u) {
    let i = base + t;
    let lp = LP[i];
    let c1 = exp(select(lp - OLD[i], sw, P.sequence != 0u));
    var L: f32;
    var high: bool;
    if (P.cispo != 0u) {
      L = -min(c1, f_(P.epsHigh)) * A * lp;
      high = c1 > f_(P.epsHigh) && A > 0.0;
    } else {
      let c1d = select(c1, min(c1, f_(P.delta)), P.hasDelta != 0u);
      let c2 = min(max(c1, 1.0 - f_(P.epsLow)), 1.0 + f_(P.epsHigh));
      L = -min(c1d * A, c2 * A);
      high = c1 > 1.0 + f_(P.epsHigh) && A > 0.0;
    }
    L = L * emask_(i);
    var kl = 0.0;
    if (beta != 0.0) {
      let d = REF[i] - lp;
      kl = exp(d) - d - 1.0;
      L = L + beta * kl;
    }
    OUT[i] = L * MASK[i];
    STATS[3u * i] = select(0.0, 1.0, c1 < 1.0 - f_(P.epsLow) && A < 0.0);
    STATS[3u * i + 1u] = select(0.0, 1.0, high);
    STATS[3u * i + 2u] = kl;
  }
}`;
  return { key: `grpoObjective:wg${wg}`, code, params: PARAMS, workgroupSize: wg };
}

export function grpoObjectiveBackwardKernel(wg: number): Kernel {
  const code = `${common(wg, true)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.B) { return; }
  let base = w * P.T;
  let A = ADV[w];
  let beta = f_(P.beta);
  // Sequence level: the row's ratio, its token count, and Σ_t G·MASK·EMASK.
  var sw = 0.0;
  var n = 1.0;
  var gsum = 0.0;
  if (P.sequence != 0u) {
    let r = seq_w_(lid, base);
    sw = r.x;
    n = r.y;
    var g = 0.0;
    for (var t = lid; t < P.T; t = t + ${wg}u) { g = g + G[base + t] * MASK[base + t] * emask_(base + t); }
    gsum = sum2_(lid, g, 0.0).x;
  }
  for (var t = lid; t < P.T; t = t + ${wg}u) {
    let i = base + t;
    let lp = LP[i];
    let m = MASK[i];
    let c1 = exp(select(lp - OLD[i], sw, P.sequence != 0u));
    var d = 0.0;
    if (P.cispo != 0u) {
      d = G[i] * m * emask_(i) * (-min(c1, f_(P.epsHigh)) * A);
    } else if (P.sequence != 0u) {
      d = gsum * dclip_(c1, A) * c1 * m / n;
    } else {
      d = G[i] * m * emask_(i) * dclip_(c1, A) * c1;
    }
    if (beta != 0.0) { d = d + G[i] * m * beta * (1.0 - exp(REF[i] - lp)); }
    DLP[i] = d;
  }
}`;
  return { key: `grpoObjectiveBackward:wg${wg}`, code, params: PARAMS, workgroupSize: wg };
}
