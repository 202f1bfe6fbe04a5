// Next-token sampling on the device: one token per row of logits, so generation reads back B
// token ids per step instead of the [B, V] logits.
//
//   X [rows, V] f32 logits, U [rows] f32 uniforms in [0, 1) → OUT [rows] i32
//   greedy (temperature 0): the first index of the row's maximum (torch.argmax).
//   otherwise, with m = max_c X[r, c] and q_c = exp((X[r, c] − m) / T) (so q ∈ [0, 1]):
//     top-k (0 < k < V): keep q_c ≥ τ_k, τ_k = the k-th largest q (ties at τ_k all kept)
//     top-p (p < 1):     keep also q_c ≥ τ_p, τ_p = the largest t with Σ_{kept, q ≥ t} q ≥ p · Σ_kept q
//     token = the first c, in index order, where Σ_{c' ≤ c, kept} q_c' > U[r] · Σ_kept q
// τ_k and τ_p are found exactly by a 31-step binary search over the bit patterns of q (for
// non-negative f32, the u32 order of the bits is the numeric order): no sort, no [V] scratch.
// The kept set is HF's TopK/TopP warpers' (temperature, then top-k, then top-p) except that ties at
// a threshold are all kept. backends/cpu/sample.ts is the same algorithm in float64.
//
// One workgroup of WG threads per row; thread t owns the contiguous chunk [t·C, (t+1)·C), C = ceil(V / WG),
// so the index-order prefix sum is a scan over WG chunk sums.
// Bindings: 0 X, 1 U, 2 OUT, 3 uniform { rows, V, invTemp (f32 bits), greedy, topK, topP (f32 bits) }.
// Dispatch: rows workgroups, folded.
import { LINEAR_WORKGROUP, NONFINITE, type Kernel, uniformBlock } from './wgsl.ts';

export function sampleKernel(wg: number): Kernel {
  const params = ['rows', 'V', 'invTemp', 'greedy', 'topK', 'topP'];
  const code = `${NONFINITE}
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<i32>;
${uniformBlock(params, 3)}
var<workgroup> sf: array<f32, ${wg}>;
var<workgroup> su: array<u32, ${wg}>;

fn sum_f_(lid: u32, v: f32) -> f32 {
  workgroupBarrier();
  sf[lid] = v;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { sf[lid] = sf[lid] + sf[lid + k]; }
    workgroupBarrier();
  }
  return sf[0];
}
fn sum_u_(lid: u32, v: u32) -> u32 {
  workgroupBarrier();
  su[lid] = v;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { su[lid] = su[lid] + su[lid + k]; }
    workgroupBarrier();
  }
  return su[0];
}
fn min_u_(lid: u32, v: u32) -> u32 {
  workgroupBarrier();
  su[lid] = v;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { su[lid] = min(su[lid], su[lid + k]); }
    workgroupBarrier();
  }
  return su[0];
}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.rows) { return; } // uniform per workgroup: barriers below stay in uniform control flow
  let base = w * P.V;
  let C = (P.V + ${wg - 1}u) / ${wg}u;
  let c0 = min(lid * C, P.V);
  let c1 = min(c0 + C, P.V);
  // Row maximum and its first index (NaN never wins).
  var bm = f32_neg_inf();
  var bi = 0xffffffffu;
  for (var c = c0; c < c1; c = c + 1u) {
    let x = X[base + c];
    if (x > bm) { bm = x; bi = c; }
  }
  workgroupBarrier();
  sf[lid] = bm;
  su[lid] = bi;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) {
      let v2 = sf[lid + k];
      let i2 = su[lid + k];
      if (v2 > sf[lid] || (v2 == sf[lid] && i2 < su[lid])) { sf[lid] = v2; su[lid] = i2; }
    }
    workgroupBarrier();
  }
  let m = sf[0];
  let mi = su[0];
  if (P.greedy != 0u) {
    if (lid == 0u) { OUT[w] = select(i32(mi), 0, mi == 0xffffffffu); }
    return;
  }
  let invT = bitcast<f32>(P.invTemp);
  // τ_k: the largest bit pattern t with #{q ≥ t} ≥ k.
  var tk = 0u;
  if (P.topK > 0u && P.topK < P.V) {
    for (var b = 31u; b > 0u; b = b - 1u) {
      let cand = tk | (1u << (b - 1u));
      var n = 0u;
      for (var c = c0; c < c1; c = c + 1u) {
        if (bitcast<u32>(exp((X[base + c] - m) * invT)) >= cand) { n = n + 1u; }
      }
      if (sum_u_(lid, n) >= P.topK) { tk = cand; }
    }
  }
  var thr = tk;
  let topP = bitcast<f32>(P.topP);
  if (topP < 1.0) {
    var z = 0.0;
    for (var c = c0; c < c1; c = c + 1u) {
      let q = exp((X[base + c] - m) * invT);
      if (bitcast<u32>(q) >= tk) { z = z + q; }
    }
    let goal = topP * sum_f_(lid, z);
    var tp = 0u;
    for (var b = 31u; b > 0u; b = b - 1u) {
      let cand = tp | (1u << (b - 1u));
      let need = max(cand, tk);
      var s = 0.0;
      for (var c = c0; c < c1; c = c + 1u) {
        let q = exp((X[base + c] - m) * invT);
        if (bitcast<u32>(q) >= need) { s = s + q; }
      }
      if (sum_f_(lid, s) >= goal) { tp = cand; }
    }
    thr = max(tk, tp);
  }
  // Chunk sums of the kept q, an exclusive scan over the chunks, then the chunk holding the goal.
  var cs = 0.0;
  var last = 0xffffffffu;
  for (var c = c0; c < c1; c = c + 1u) {
    let q = exp((X[base + c] - m) * invT);
    if (bitcast<u32>(q) >= thr) { cs = cs + q; last = c; }
  }
  workgroupBarrier();
  sf[lid] = cs;
  workgroupBarrier();
  if (lid == 0u) {
    var acc = 0.0;
    for (var t = 0u; t < ${wg}u; t = t + 1u) { let v = sf[t]; sf[t] = acc; acc = acc + v; }
  }
  workgroupBarrier();
  let pre = sf[lid];
  let total = sum_f_(lid, cs);
  let goal = U[w] * total;
  var pick = 0xffffffffu;
  if (cs > 0.0 && goal >= pre && goal < pre + cs) {
    var acc = pre;
    for (var c = c0; c < c1; c = c + 1u) {
      let q = exp((X[base + c] - m) * invT);
      if (bitcast<u32>(q) >= thr) {
        acc = acc + q;
        if (acc > goal) { pick = c; break; }
      }
    }
  }
  let chosen = min_u_(lid, pick);
  // Rounding left the goal past every prefix: the last kept index (the largest, found as the
  // smallest of its complement; 0 when nothing is kept, a row of NaN or -inf).
  let lastKept = 0xffffffffu - min_u_(lid, 0xffffffffu - select(0u, last, last != 0xffffffffu));
  if (lid == 0u) { OUT[w] = i32(select(chosen, lastKept, chosen == 0xffffffffu)); }
}`;
  return { key: `sample:wg${wg}`, code, params, workgroupSize: wg };
}
