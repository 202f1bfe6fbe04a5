// Per-row max and Σ exp(x - max) in one read of the row (the "online softmax" recurrence), shared
// by softmax.ts and logsumexp.ts. Each of WG threads folds a strided slice of the row into (m, s),
// then the pairs meet in a workgroup-memory tree:
//   (m1, s1) ⊕ (m2, s2) = (m, s1·e^(m1-m) + s2·e^(m2-m)),  m = max(m1, m2).
// -inf entries (attention masks) add nothing; a NaN anywhere makes s NaN, so the row's outputs
// are NaN as on the cpu backend instead of silently skipping it.
// Expects in scope: X (f32 storage, or vec4<f32> when vec4), P.cols (in X's units), `base` (row
// start, same units), `lid` (local index). Declares m, s.
import { NONFINITE } from './wgsl.ts';

/** Workgroup size for a row of `cols`: small rows do not need 256 idle threads. */
export function rowWorkgroupSize(cols: number): number {
  return cols <= 32 ? 32 : cols <= 64 ? 64 : cols <= 128 ? 128 : 256;
}

export function rowStatsDecls(wg: number): string {
  return `${NONFINITE}
var<workgroup> shm: array<f32, ${wg}>;
var<workgroup> shs: array<f32, ${wg}>;
fn combine_(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2<f32> {
  let m = max(m1, m2);
  if (m == f32_neg_inf()) { return vec2<f32>(m, s1 + s2); } // both empty
  return vec2<f32>(m, s1 * exp(m1 - m) + s2 * exp(m2 - m));
}`;
}

/** Code that leaves the row's max in `m` and Σ exp(x - m) in `s` (same value in every thread). */
export function rowStatsBody(wg: number, vec4 = false): string {
  const fold = `if (x > tm) { ts = ts * exp(tm - x) + 1.0; tm = x; }
    else if (x > f32_neg_inf()) { ts = ts + exp(x - tm); }
    else if (is_nan_(x)) { ts = x; }`;
  return `  var tm = f32_neg_inf();
  var ts = 0.0;
  for (var c = lid; c < P.cols; c = c + ${wg}u) {
${vec4
    ? `    let x4 = X[base + c];
    for (var j = 0u; j < 4u; j = j + 1u) {
      let x = x4[j];
      ${fold}
    }`
    : `    let x = X[base + c];
    ${fold}`}
  }
  shm[lid] = tm;
  shs[lid] = ts;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) {
      let r = combine_(shm[lid], shs[lid], shm[lid + k], shs[lid + k]);
      shm[lid] = r.x;
      shs[lid] = r.y;
    }
    workgroupBarrier();
  }
  let m = shm[0];
  let s = shs[0];`;
}
