// Fused causal attention forward (FlashAttention-2 scheme), f32:
//   Q [B, H, T, D], K, V [B, KV, S, D] (, SQ i32 [B, T], SK i32 [B, S])
//   → O [B, H, T, D] = softmax(scale · Q Kᵀ + mask) V,  LSE [B, H, T] = logsumexp of the masked row.
// The [T, S] score matrix never leaves the workgroup. One workgroup per (b, h, block of BQ queries),
// BQ · TPR threads; thread (i, cc) owns query row i, keys cc + TPR·n of each key block, and output
// columns cc + TPR·n. Per key block of BK keys (only blocks some row of the tile can see):
//   load K, V (and SK) tiles | scores of own keys → registers, partial row max → MX
//   | row max m' = max(m, MX[i, :]), p = exp(s − m') of own keys → PS
//   | o ← o·e^(m − m') + Σ_j PS[i, j]·V[j, :], l ← l·e^(m − m') + Σ_j PS[i, j].
// Rows that see no key keep m = −inf, l = 0 and write O = 0, LSE = −inf.
// Q is multiplied by scale when staged, so scores come out scaled.
// Bindings: 0 Q, 1 K, 2 V, [3 SQ, 4 SK], then O, LSE (read_write), then the uniform block
// (ATTENTION_PARAMS, blocks = ceil(T / BQ)). Dispatch: B·H·blocks workgroups, folded.
import { ATTENTION_PARAMS, type AttentionTiles, decodeWorkgroup, rowStride, visible } from './attention-common.ts';
import { type Kernel, LINEAR_WORKGROUP, NONFINITE, uniformBlock } from './wgsl.ts';

/** f32 words of workgroup memory the forward kernel uses. */
export function attentionForwardWords(D: number, BQ: number, BK: number): number {
  return (BQ + 2 * BK) * rowStride(D) + BQ * (BK + 1) + BQ * 8 + BK; // MX: BQ · TPR ≤ BQ · 8
}

export function attentionForwardKernel(D: number, t: AttentionTiles, segments: boolean): Kernel {
  const { rows: BQ, cols: BK, TPR } = t;
  const WG = BQ * TPR, DP = rowStride(D), BKP = BK + 1;
  const NK = Math.ceil(BK / TPR), NC = Math.ceil(D / TPR);
  const out = segments ? 5 : 3;
  const code = `${NONFINITE}
@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
${segments ? `@group(0) @binding(3) var<storage, read> SQ: array<i32>;
@group(0) @binding(4) var<storage, read> SK: array<i32>;` : ''}
@group(0) @binding(${out}) var<storage, read_write> O: array<f32>;
@group(0) @binding(${out + 1}) var<storage, read_write> LSE: array<f32>;
${uniformBlock(ATTENTION_PARAMS, out + 2)}
var<workgroup> QS: array<f32, ${BQ * DP}>;
var<workgroup> KS: array<f32, ${BK * DP}>;
var<workgroup> VS: array<f32, ${BK * DP}>;
var<workgroup> PS: array<f32, ${BQ * BKP}>;
var<workgroup> MX: array<f32, ${BQ * TPR}>;
var<workgroup> SEGK: array<i32, ${BK}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.total) { return; } // uniform per workgroup, so the barriers below stay uniform
  ${decodeWorkgroup('H')}
  let kvh = head / (P.H / P.KV);
  let q0 = blk * ${BQ}u;
  let i = lid / ${TPR}u;
  let cc = lid % ${TPR}u;
  let t = q0 + i;
  let qBase = bh * P.T * ${D}u;
  let kBase = (b * P.KV + kvh) * P.S * ${D}u;
  let scale = bitcast<f32>(P.scale);
  for (var e = lid; e < ${BQ * D}u; e = e + ${WG}u) {
    let r = e / ${D}u;
    let d = e % ${D}u;
    var x = 0.0;
    if (q0 + r < P.T) { x = Q[qBase + (q0 + r) * ${D}u + d] * scale; }
    QS[r * ${DP}u + d] = x;
  }
  ${segments ? 'var sq = -1; if (t < P.T) { sq = SQ[b * P.T + t]; }' : ''}
  var m = f32_neg_inf();
  var l = 0.0;
  var o: array<f32, ${NC}>;
  for (var n = 0u; n < ${NC}u; n = n + 1u) { o[n] = 0.0; }
  // Keys past the tile's last query are invisible to all its rows.
  let kEnd = min(P.S, P.past + q0 + ${BQ}u);
  for (var k0 = 0u; k0 < kEnd; k0 = k0 + ${BK}u) {
    for (var e = lid; e < ${BK * D}u; e = e + ${WG}u) {
      let r = e / ${D}u;
      let d = e % ${D}u;
      var kx = 0.0;
      var vx = 0.0;
      if (k0 + r < P.S) {
        let a = kBase + (k0 + r) * ${D}u + d;
        kx = K[a];
        vx = V[a];
      }
      KS[r * ${DP}u + d] = kx;
      VS[r * ${DP}u + d] = vx;
    }
    ${segments ? `for (var e = lid; e < ${BK}u; e = e + ${WG}u) { if (k0 + e < P.S) { SEGK[e] = SK[b * P.S + k0 + e]; } }` : ''}
    workgroupBarrier();
    // d outer: each q value is read once per key block and reused for all NK keys of the thread.
    var s: array<f32, ${NK}>;
    for (var n = 0u; n < ${NK}u; n = n + 1u) { s[n] = 0.0; }
    for (var d = 0u; d < ${D}u; d = d + 1u) {
      let qd = QS[i * ${DP}u + d];
      for (var n = 0u; n < ${NK}u; n = n + 1u) {
        s[n] = s[n] + qd * KS[min(cc + n * ${TPR}u, ${BK - 1}u) * ${DP}u + d];
      }
    }
    var mx = f32_neg_inf();
    for (var n = 0u; n < ${NK}u; n = n + 1u) {
      let j = cc + n * ${TPR}u;
      let sj = k0 + j;
      if (j < ${BK}u && ${visible(segments, 't', 'sj', 'sq', 'SEGK[min(j, ' + (BK - 1) + 'u)]')}) {
        mx = max(mx, s[n]);
      } else {
        s[n] = f32_neg_inf();
      }
    }
    MX[i * ${TPR}u + cc] = mx;
    workgroupBarrier();
    var mNew = m;
    for (var c = 0u; c < ${TPR}u; c = c + 1u) { mNew = max(mNew, MX[i * ${TPR}u + c]); }
    for (var n = 0u; n < ${NK}u; n = n + 1u) {
      let j = cc + n * ${TPR}u;
      if (j < ${BK}u) {
        var p = 0.0;
        if (s[n] > f32_neg_inf()) { p = exp(s[n] - mNew); }
        PS[i * ${BKP}u + j] = p;
      }
    }
    workgroupBarrier();
    if (mNew > f32_neg_inf()) { // else nothing visible yet: o, l stay 0
      var alpha = 0.0;
      if (m > f32_neg_inf()) { alpha = exp(m - mNew); }
      l = l * alpha;
      for (var n = 0u; n < ${NC}u; n = n + 1u) { o[n] = o[n] * alpha; }
      for (var j = 0u; j < ${BK}u; j = j + 1u) {
        let p = PS[i * ${BKP}u + j];
        l = l + p;
        for (var n = 0u; n < ${NC}u; n = n + 1u) {
          let c = cc + n * ${TPR}u;
          if (c < ${D}u) { o[n] = o[n] + p * VS[j * ${DP}u + c]; }
        }
      }
      m = mNew;
    }
    workgroupBarrier();
  }
  if (t < P.T) {
    var inv = 0.0;
    if (l > 0.0) { inv = 1.0 / l; }
    for (var n = 0u; n < ${NC}u; n = n + 1u) {
      let c = cc + n * ${TPR}u;
      if (c < ${D}u) { O[qBase + t * ${D}u + c] = o[n] * inv; }
    }
    if (cc == 0u) {
      var lse = f32_neg_inf();
      if (l > 0.0) { lse = m + log(l); }
      LSE[bh * P.T + t] = lse;
    }
  }
}`;
  return {
    key: `attention-forward:D${D}:q${BQ}:k${BK}:r${TPR}${segments ? ':seg' : ''}`,
    code, params: ATTENTION_PARAMS, workgroupSize: WG,
  };
}
