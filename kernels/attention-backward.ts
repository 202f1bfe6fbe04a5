// Fused causal attention backward (FlashAttention-2 scheme), f32, three dispatches, no atomics.
// Shapes and masking as in attention-common.ts; P = exp(scale · Q Kᵀ − LSE) recomputed per tile.
//   delta [B, H, T] = Σ_d dO ∘ O                                           (attentionDeltaKernel)
//   dS = P ∘ (dO Vᵀ − delta)
//   dV [B, KV, S, D] = Σ_{g < H/KV} Pᵀ dO,  dK = scale · Σ_g dSᵀ Q          (attentionDkDvKernel)
//   dQ [B, H, T, D] = scale · dS K                                          (attentionDqKernel)
// dK/dV: one workgroup per (b, kv head, block of BK keys); it walks the G query heads of its group
// and the query blocks that can see its keys, so each dK/dV row is summed by one thread.
// dQ: one workgroup per (b, h, block of BQ queries), walking the key blocks its rows can see.
import { ATTENTION_PARAMS, type AttentionTiles, decodeWorkgroup, rowStride, visible } from './attention-common.ts';
import { entry1d, type Kernel, LINEAR_WORKGROUP, uniformBlock } from './wgsl.ts';

// delta: one thread per query row. Bindings: 0 O, 1 dO, 2 delta (read_write), 3 uniform { n }.
export function attentionDeltaKernel(D: number): Kernel {
  const params = ['n'];
  const code = `
@group(0) @binding(0) var<storage, read> O: array<f32>;
@group(0) @binding(1) var<storage, read> DO: array<f32>;
@group(0) @binding(2) var<storage, read_write> DELTA: array<f32>;
${uniformBlock(params, 3)}
${entry1d(`  if (i >= P.n) { return; }
  var acc = 0.0;
  for (var d = 0u; d < ${D}u; d = d + 1u) { acc = acc + O[i * ${D}u + d] * DO[i * ${D}u + d]; }
  DELTA[i] = acc;`)}`;
  return { key: `attention-delta:D${D}`, code, params, workgroupSize: 256 };
}

/** Bindings shared by the tiled backward kernels: inputs, then segments, then outputs. */
function bindings(segments: boolean, outs: string[]): { decls: string; uniform: number } {
  const ins = ['Q', 'K', 'V', 'DO', 'LSE', 'DELTA'];
  const lines = ins.map((n, k) => `@group(0) @binding(${k}) var<storage, read> ${n}: array<f32>;`);
  let k = ins.length;
  if (segments) {
    lines.push(`@group(0) @binding(${k++}) var<storage, read> SQ: array<i32>;`);
    lines.push(`@group(0) @binding(${k++}) var<storage, read> SK: array<i32>;`);
  }
  for (const n of outs) lines.push(`@group(0) @binding(${k++}) var<storage, read_write> ${n}: array<f32>;`);
  return { decls: `${lines.join('\n')}\n${uniformBlock(ATTENTION_PARAMS, k)}`, uniform: k };
}

/** f32 words of workgroup memory either tiled backward kernel uses (owned rows × cols per step; symmetric). */
export function attentionBackwardWords(D: number, rows: number, cols: number): number {
  return 2 * (rows + cols) * rowStride(D) + 2 * rows * (cols + 1) + 3 * Math.max(rows, cols) + Math.max(rows, cols);
}

/** Stage rows [r0, r0 + ROWS) of a [rows, D] slab (base `base`, `n` valid rows) into a tile, zero past n. */
function stage(tile: string, src: string, rows: number, D: number, WG: number, base: string, r0: string, n: string, mul = ''): string {
  const DP = rowStride(D);
  return `for (var e = lid; e < ${rows * D}u; e = e + ${WG}u) {
      let r = e / ${D}u;
      let d = e % ${D}u;
      var x = 0.0;
      if (${r0} + r < ${n}) { x = ${src}[${base} + (${r0} + r) * ${D}u + d]${mul}; }
      ${tile}[r * ${DP}u + d] = x;
    }`;
}

// dK, dV; tiles.rows = BK keys owned, tiles.cols = BQ queries per step. Thread (j, cc): key row j, queries cc + TPR·n of each query tile (scores),
// columns cc + TPR·n of dK and dV (accumulators). Blocks = ceil(S / BK).
// Bindings: 0 Q, 1 K, 2 V, 3 dO, 4 LSE, 5 delta, [6 SQ, 7 SK], then dK, dV, then the uniform block.
export function attentionDkDvKernel(D: number, t: AttentionTiles, segments: boolean): Kernel {
  const { rows: BK, cols: BQ, TPR } = t;
  const WG = BK * TPR, DP = rowStride(D), BQP = BQ + 1;
  const NQ = Math.ceil(BQ / TPR), NC = Math.ceil(D / TPR);
  const code = `
${bindings(segments, ['DK', 'DV']).decls}
var<workgroup> QS: array<f32, ${BQ * DP}>;
var<workgroup> DOS: array<f32, ${BQ * DP}>;
var<workgroup> KS: array<f32, ${BK * DP}>;
var<workgroup> VS: array<f32, ${BK * DP}>;
var<workgroup> PS: array<f32, ${BK * BQP}>;
var<workgroup> DSS: array<f32, ${BK * BQP}>;
var<workgroup> LS: array<f32, ${BQ}>;
var<workgroup> DL: array<f32, ${BQ}>;
var<workgroup> SEGQ: array<i32, ${BQ}>;
var<workgroup> SEGK: array<i32, ${BK}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.total) { return; }
  ${decodeWorkgroup('KV')}
  let G = P.H / P.KV;
  let k0 = blk * ${BK}u;
  let j = lid / ${TPR}u;
  let cc = lid % ${TPR}u;
  let sj = k0 + j;
  let kBase = bh * P.S * ${D}u;
  let scale = bitcast<f32>(P.scale);
  ${stage('KS', 'K', BK, D, WG, 'kBase', 'k0', 'P.S')}
  ${stage('VS', 'V', BK, D, WG, 'kBase', 'k0', 'P.S')}
  ${segments ? `for (var e = lid; e < ${BK}u; e = e + ${WG}u) { var x = -1; if (k0 + e < P.S) { x = SK[b * P.S + k0 + e]; } SEGK[e] = x; }` : ''}
  var dk: array<f32, ${NC}>;
  var dv: array<f32, ${NC}>;
  for (var n = 0u; n < ${NC}u; n = n + 1u) { dk[n] = 0.0; dv[n] = 0.0; }
  // Queries before k0 − past see none of these keys.
  var tStart = 0u;
  if (k0 > P.past) { tStart = ((k0 - P.past) / ${BQ}u) * ${BQ}u; }
  for (var g = 0u; g < G; g = g + 1u) {
    let qh = (b * P.H + head * G + g); // b · H + query head
    let qBase = qh * P.T * ${D}u;
    for (var q0 = tStart; q0 < P.T; q0 = q0 + ${BQ}u) {
      ${stage('QS', 'Q', BQ, D, WG, 'qBase', 'q0', 'P.T', ' * scale')}
      ${stage('DOS', 'DO', BQ, D, WG, 'qBase', 'q0', 'P.T')}
      for (var e = lid; e < ${BQ}u; e = e + ${WG}u) {
        var lse = 0.0;
        var dl = 0.0;
        if (q0 + e < P.T) { lse = LSE[qh * P.T + q0 + e]; dl = DELTA[qh * P.T + q0 + e]; }
        LS[e] = lse;
        DL[e] = dl;
        ${segments ? 'var sq = -1; if (q0 + e < P.T) { sq = SQ[b * P.T + q0 + e]; } SEGQ[e] = sq;' : ''}
      }
      workgroupBarrier();
      // d outer: k and v values are read once and reused for all NQ queries of the thread.
      var s: array<f32, ${NQ}>;
      var dp: array<f32, ${NQ}>;
      for (var n = 0u; n < ${NQ}u; n = n + 1u) { s[n] = 0.0; dp[n] = 0.0; }
      for (var d = 0u; d < ${D}u; d = d + 1u) {
        let kd = KS[j * ${DP}u + d];
        let vd = VS[j * ${DP}u + d];
        for (var n = 0u; n < ${NQ}u; n = n + 1u) {
          let r = min(cc + n * ${TPR}u, ${BQ - 1}u) * ${DP}u + d;
          s[n] = s[n] + QS[r] * kd;
          dp[n] = dp[n] + DOS[r] * vd;
        }
      }
      for (var n = 0u; n < ${NQ}u; n = n + 1u) {
        let i = cc + n * ${TPR}u;
        if (i < ${BQ}u) {
          let tq = q0 + i;
          var p = 0.0;
          var ds = 0.0;
          if ${visible(segments, 'tq', 'sj', 'SEGQ[i]', 'SEGK[j]')} {
            p = exp(s[n] - LS[i]);
            ds = p * (dp[n] - DL[i]);
          }
          PS[j * ${BQP}u + i] = p;
          DSS[j * ${BQP}u + i] = ds;
        }
      }
      workgroupBarrier();
      for (var i = 0u; i < ${BQ}u; i = i + 1u) {
        let p = PS[j * ${BQP}u + i];
        let ds = DSS[j * ${BQP}u + i];
        for (var n = 0u; n < ${NC}u; n = n + 1u) {
          let c = cc + n * ${TPR}u;
          if (c < ${D}u) {
            dv[n] = dv[n] + p * DOS[i * ${DP}u + c];
            dk[n] = dk[n] + ds * QS[i * ${DP}u + c];
          }
        }
      }
      workgroupBarrier();
    }
  }
  if (sj < P.S) {
    for (var n = 0u; n < ${NC}u; n = n + 1u) {
      let c = cc + n * ${TPR}u;
      if (c < ${D}u) {
        DK[kBase + sj * ${D}u + c] = dk[n];
        DV[kBase + sj * ${D}u + c] = dv[n];
      }
    }
  }
}`;
  return {
    key: `attention-dkdv:D${D}:q${BQ}:k${BK}:r${TPR}${segments ? ':seg' : ''}`,
    code, params: ATTENTION_PARAMS, workgroupSize: WG,
  };
}

// dQ; tiles.rows = BQ queries owned, tiles.cols = BK keys per step. Thread (i, cc): query row i, keys cc + TPR·n of each key tile, columns cc + TPR·n of dQ.
// Blocks = ceil(T / BQ). Bindings: 0 Q, 1 K, 2 V, 3 dO, 4 LSE, 5 delta, [6 SQ, 7 SK], then dQ,
// then the uniform block.
export function attentionDqKernel(D: number, t: AttentionTiles, segments: boolean): Kernel {
  const { rows: BQ, cols: BK, TPR } = t;
  const WG = BQ * TPR, DP = rowStride(D), BKP = BK + 1;
  const NK = Math.ceil(BK / TPR), NC = Math.ceil(D / TPR);
  const code = `
${bindings(segments, ['DQ']).decls}
var<workgroup> QS: array<f32, ${BQ * DP}>;
var<workgroup> DOS: array<f32, ${BQ * DP}>;
var<workgroup> KS: array<f32, ${BK * DP}>;
var<workgroup> VS: array<f32, ${BK * DP}>;
var<workgroup> DSS: array<f32, ${BQ * BKP}>;
var<workgroup> SEGK: array<i32, ${BK}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.total) { return; }
  ${decodeWorkgroup('H')}
  let kvh = head / (P.H / P.KV);
  let q0 = blk * ${BQ}u;
  let i = lid / ${TPR}u;
  let cc = lid % ${TPR}u;
  let t = q0 + i;
  let qBase = bh * P.T * ${D}u;
  let kBase = (b * P.KV + kvh) * P.S * ${D}u;
  let scale = bitcast<f32>(P.scale);
  ${stage('QS', 'Q', BQ, D, WG, 'qBase', 'q0', 'P.T', ' * scale')}
  ${stage('DOS', 'DO', BQ, D, WG, 'qBase', 'q0', 'P.T')}
  var lse = 0.0;
  var dl = 0.0;
  ${segments ? 'var sq = -1;' : ''}
  if (t < P.T) {
    lse = LSE[bh * P.T + t];
    dl = DELTA[bh * P.T + t];
    ${segments ? 'sq = SQ[b * P.T + t];' : ''}
  }
  var dq: array<f32, ${NC}>;
  for (var n = 0u; n < ${NC}u; n = n + 1u) { dq[n] = 0.0; }
  let kEnd = min(P.S, P.past + q0 + ${BQ}u);
  for (var k0 = 0u; k0 < kEnd; k0 = k0 + ${BK}u) {
    ${stage('KS', 'K', BK, D, WG, 'kBase', 'k0', 'P.S')}
    ${stage('VS', 'V', BK, D, WG, 'kBase', 'k0', 'P.S')}
    ${segments ? `for (var e = lid; e < ${BK}u; e = e + ${WG}u) { var x = -1; if (k0 + e < P.S) { x = SK[b * P.S + k0 + e]; } SEGK[e] = x; }` : ''}
    workgroupBarrier();
    // d outer: q and dO values are read once and reused for all NK keys of the thread.
    var s: array<f32, ${NK}>;
    var dp: array<f32, ${NK}>;
    for (var n = 0u; n < ${NK}u; n = n + 1u) { s[n] = 0.0; dp[n] = 0.0; }
    for (var d = 0u; d < ${D}u; d = d + 1u) {
      let qd = QS[i * ${DP}u + d];
      let dod = DOS[i * ${DP}u + d];
      for (var n = 0u; n < ${NK}u; n = n + 1u) {
        let r = min(cc + n * ${TPR}u, ${BK - 1}u) * ${DP}u + d;
        s[n] = s[n] + qd * KS[r];
        dp[n] = dp[n] + dod * VS[r];
      }
    }
    for (var n = 0u; n < ${NK}u; n = n + 1u) {
      let j = cc + n * ${TPR}u;
      if (j < ${BK}u) {
        let sj = k0 + j;
        var ds = 0.0;
        if ${visible(segments, 't', 'sj', 'sq', 'SEGK[j]')} {
          ds = exp(s[n] - lse) * (dp[n] - dl);
        }
        DSS[i * ${BKP}u + j] = ds;
      }
    }
    workgroupBarrier();
    for (var j = 0u; j < ${BK}u; j = j + 1u) {
      let ds = DSS[i * ${BKP}u + j];
      for (var n = 0u; n < ${NC}u; n = n + 1u) {
        let c = cc + n * ${TPR}u;
        if (c < ${D}u) { dq[n] = dq[n] + ds * KS[j * ${DP}u + c]; }
      }
    }
    workgroupBarrier();
  }
  if (t < P.T) {
    for (var n = 0u; n < ${NC}u; n = n + 1u) {
      let c = cc + n * ${TPR}u;
      if (c < ${D}u) { DQ[qBase + t * ${D}u + c] = dq[n] * scale; }
    }
  }
}`;
  return {
    key: `attention-dq:D${D}:q${BQ}:k${BK}:r${TPR}${segments ? ':seg' : ''}`,
    code, params: ATTENTION_PARAMS, workgroupSize: WG,
  };
}
