// Fused causal attention forward (FlashAttention-2 scheme), f32:
//   Q [B, H, T, D], K, V [B, KV, S, D] (, SQ i32 [B, T], SK i32 [B, S])
//   → O [B, H, T, D] = softmax(scale · Q Kᵀ + mask) V,  LSE [B, H, T] = logsumexp of the masked row.
// The [T, S] score matrix never leaves the workgroup. One workgroup per (b, h, block of BQ = rows
// queries), register-tiled as in attention-common.ts: thread (ti, tj) owns queries ti·RQ + r,
// keys tj + TJ·u of each key block (RK = BK / TJ of them) and output units tj + TJ·n. Per key block
// of BK keys (only blocks some row of the tile can see), 4 barriers:
//   stage K → KV | S[r][u] = Σ_d Q·K (RQ + RK vec4 reads per 4·RQ·RK FMAs), mask, partial row
//   max → MX | row max m' = max(m, MX[row, :]); α = e^(m − m'); P = e^(S − m') → PS; l, o ·= α;
//   stage V → KV (K is dead) | o[r][n] += Σ_j P[r, j] V[j, n] (RQ + 4·NC vec4 reads per 16·RQ·NC
//   FMAs) | (next block).
// l is kept per thread over its own keys (every partial is rescaled by the same α) and summed
// across the row once at the end. Rows that see no key keep m = −inf, l = 0 and write O = 0,
// LSE = −inf. Q is multiplied by scale when staged, so scores come out scaled.
// Bindings: 0 Q, 1 K, 2 V, [3 SQ, 4 SK], then O, LSE (read_write), then the uniform block
// (ATTENTION_PARAMS, blocks = ceil(T / BQ)). Q, K, V, O are arrays of units (vec4 when D % 4 = 0).
// Dispatch: B·H·blocks workgroups, folded; heaviest query blocks first.
import {
  ATTENTION_PARAMS, type AttentionTiles, decodeWorkgroup, stageRows, threads, units, unroll, visible,
} from './attention-common.ts';
import { type Kernel, LINEAR_WORKGROUP, NONFINITE, uniformBlock } from './wgsl.ts';

/** Tiles tried in order (rows, cols = BK, RQ, TJ): many queries per workgroup first, then decode shapes. */
// Order measured on an H100 (bench/NOTES.md, B 8 H 9 T 512 D 64): 64×32 TJ 16 0.183 ms, 32×32 TJ 16
// 0.186, 32×32 TJ 8 0.275 (the previous default); 16 key-threads per row beat 8 at both heights.
export const FORWARD_TILES: AttentionTiles[] = [
  { rows: 64, cols: 32, RQ: 4, TJ: 16 }, // 256 threads, 2 keys and D/64 vec4 columns each; 37.6 KB at D = 64
  { rows: 32, cols: 32, RQ: 4, TJ: 16 }, // 128 threads; 23.1 KB (devices with 32 KB)
  { rows: 32, cols: 32, RQ: 4, TJ: 8 },
  { rows: 16, cols: 32, RQ: 4, TJ: 8 },
  { rows: 8, cols: 16, RQ: 2, TJ: 4 },
  { rows: 4, cols: 32, RQ: 1, TJ: 16 }, // T ≤ 4: decode steps, short chunks
  { rows: 4, cols: 16, RQ: 1, TJ: 8 },
];

/** Bytes of workgroup memory the forward kernel uses. */
export function attentionForwardBytes(D: number, t: AttentionTiles): number {
  const u = units(D);
  return 4 * ((t.rows + t.cols) * u.DP * u.W + t.rows * t.cols + t.rows * t.TJ + t.cols);
}

const cache = new Map<string, Kernel>();

export function attentionForwardKernel(D: number, t: AttentionTiles, segments: boolean): Kernel {
  const key = `attention-forward:D${D}:q${t.rows}:k${t.cols}:rq${t.RQ}:tj${t.TJ}${segments ? ':seg' : ''}`;
  let k = cache.get(key);
  if (!k) cache.set(key, k = { key, code: forwardWgsl(D, t, segments), params: ATTENTION_PARAMS, workgroupSize: threads(t) });
  return k;
}

function forwardWgsl(D: number, t: AttentionTiles, segments: boolean): string {
  const { rows: BQ, cols: BK, RQ, TJ } = t;
  const u = units(D), { DU, DP, T } = u;
  const WG = threads(t), RK = BK / TJ, NC = Math.ceil(DU / TJ), BK4 = BK / 4, TJ4 = TJ / 4;
  if (BK % TJ !== 0 || BK % 4 !== 0 || TJ % 4 !== 0 || BQ % RQ !== 0) throw new Error(`attention forward: bad tiles ${JSON.stringify(t)}`);
  const out = segments ? 5 : 3;
  const R = (r: number) => `(ti * ${RQ}u + ${r}u)`; // owned row r within the tile
  const col = (n: number) => `min(tj + ${n * TJ}u, ${DU - 1}u)`; // clamped: columns past DU are computed, never written
  const RN = Array.from({ length: RQ }, (_, r) => r);
  return `${NONFINITE}
@group(0) @binding(0) var<storage, read> Q: array<${T}>;
@group(0) @binding(1) var<storage, read> K: array<${T}>;
@group(0) @binding(2) var<storage, read> V: array<${T}>;
${segments ? `@group(0) @binding(3) var<storage, read> SQ: array<i32>;
@group(0) @binding(4) var<storage, read> SK: array<i32>;` : ''}
@group(0) @binding(${out}) var<storage, read_write> O: array<${T}>;
@group(0) @binding(${out + 1}) var<storage, read_write> LSE: array<f32>;
${uniformBlock(ATTENTION_PARAMS, out + 2)}
var<workgroup> QS: array<array<${T}, ${DP}>, ${BQ}>;
var<workgroup> KV: array<array<${T}, ${DP}>, ${BK}>; // K of the step, then its V
var<workgroup> PS: array<array<vec4<f32>, ${BK4}>, ${BQ}>; // P [BQ, BK]
var<workgroup> MX: array<array<vec4<f32>, ${TJ4}>, ${BQ}>; // partial row maxima [BQ, TJ], at the end partial row sums
var<workgroup> SEGK: array<i32, ${BK}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.total) { return; } // uniform per workgroup, so the barriers below stay uniform
  ${decodeWorkgroup('H', true)}
  let kvh = head / (P.H / P.KV);
  let q0 = blk * ${BQ}u;
  let ti = lid / ${TJ}u;
  let tj = lid % ${TJ}u;
  let qBase = bh * P.T * ${DU}u;
  let kBase = (b * P.KV + kvh) * P.S * ${DU}u;
  let scale = bitcast<f32>(P.scale);
  let NEG = f32_neg_inf();
  ${stageRows(u, 'QS', 'Q', BQ, WG, 'qBase', 'q0', 'P.T', ' * scale')}
${unroll(RQ, (r) => `  let t${r} = q0 + ${R(r)};
  var m${r} = NEG;
  var l${r} = 0.0;${segments ? `
  var sq${r} = -1; if (t${r} < P.T) { sq${r} = SQ[b * P.T + t${r}]; }` : ''}`)}
  var o: array<${T}, ${RQ * NC}>;
${unroll(RQ * NC, (i) => `  o[${i}] = ${u.zero};`)}
  // Keys past the tile's last query are invisible to all its rows.
  let kEnd = min(P.S, P.past + q0 + ${BQ}u);
  for (var k0 = 0u; k0 < kEnd; k0 = k0 + ${BK}u) {
    ${stageRows(u, 'KV', 'K', BK, WG, 'kBase', 'k0', 'P.S')}
    ${segments ? `for (var e = lid; e < ${BK}u; e = e + ${WG}u) { var x = -1; if (k0 + e < P.S) { x = SK[b * P.S + k0 + e]; } SEGK[e] = x; }` : ''}
    workgroupBarrier();
    var s: array<f32, ${RQ * RK}>;
${unroll(RQ * RK, (i) => `    s[${i}] = 0.0;`)}
    for (var d = 0u; d < ${DU}u; d = d + 1u) {
${unroll(RQ, (r) => `      let q${r} = QS[${R(r)}][d];`)}
${unroll(RK, (k) => `      let k${k} = KV[tj + ${k * TJ}u][d];`)}
${RN.map((r) => unroll(RK, (k) => `      s[${r * RK + k}] = s[${r * RK + k}] + ${u.dot(`q${r}`, `k${k}`)};`)).join('\n')}
    }
${RN.map((r) => `    var mx${r} = NEG;
${unroll(RK, (k) => `    s[${r * RK + k}] = select(NEG, s[${r * RK + k}], ${visible(segments, `t${r}`, `k0 + tj + ${k * TJ}u`, `sq${r}`, `SEGK[tj + ${k * TJ}u]`)});
    mx${r} = max(mx${r}, s[${r * RK + k}]);`)}
    MX[${R(r)}][tj / 4u][tj % 4u] = mx${r};`).join('\n')}
    workgroupBarrier(); // K is dead from here: V goes into KV
${RN.map((r) => `    var mn${r} = m${r};
    for (var c = 0u; c < ${TJ4}u; c = c + 1u) {
      let x = MX[${R(r)}][c];
      mn${r} = max(mn${r}, max(max(x.x, x.y), max(x.z, x.w)));
    }
    let alpha${r} = select(0.0, exp(m${r} - mn${r}), m${r} > NEG); // m = −inf: o, l are still 0
    l${r} = l${r} * alpha${r};
${unroll(RK, (k) => `    { let p = select(0.0, exp(s[${r * RK + k}] - mn${r}), s[${r * RK + k}] > NEG); l${r} = l${r} + p;
      PS[${R(r)}][(tj + ${k * TJ}u) / 4u][(tj + ${k * TJ}u) % 4u] = p; }`)}
${unroll(NC, (n) => `    o[${r * NC + n}] = o[${r * NC + n}] * alpha${r};`)}
    m${r} = mn${r};`).join('\n')}
    ${stageRows(u, 'KV', 'V', BK, WG, 'kBase', 'k0', 'P.S')}
    workgroupBarrier();
    for (var j4 = 0u; j4 < ${BK4}u; j4 = j4 + 1u) {
${unroll(RQ, (r) => `      let p${r} = PS[${R(r)}][j4];`)}
${unroll(4, (c) => `      {
${unroll(NC, (n) => `        let v${n} = KV[j4 * 4u + ${c}u][${col(n)}];`)}
${RN.map((r) => unroll(NC, (n) => `        o[${r * NC + n}] = o[${r * NC + n}] + p${r}[${c}] * v${n};`)).join('\n')}
      }`)}
    }
    workgroupBarrier();
  }
  // Row sums: each thread holds the sum over its own keys.
${unroll(RQ, (r) => `  MX[${R(r)}][tj / 4u][tj % 4u] = l${r};`)}
  workgroupBarrier();
${RN.map((r) => `  if (t${r} < P.T) {
    var l = 0.0;
    for (var c = 0u; c < ${TJ4}u; c = c + 1u) { let x = MX[${R(r)}][c]; l = l + (x.x + x.y) + (x.z + x.w); }
    var inv = 0.0;
    if (l > 0.0) { inv = 1.0 / l; }
${unroll(NC, (n) => `    if (tj + ${n * TJ}u < ${DU}u) { O[qBase + t${r} * ${DU}u + tj + ${n * TJ}u] = o[${r * NC + n}] * inv; }`)}
    if (tj == 0u) {
      var lse = NEG;
      if (l > 0.0) { lse = m${r} + log(l); }
      LSE[bh * P.T + t${r}] = lse;
    }
  }`).join('\n')}
}`;
}
