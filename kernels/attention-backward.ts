// Fused causal attention backward (FlashAttention-2 scheme), f32, three dispatches, no atomics.
// Shapes, masking and register tiling as in attention-common.ts; P = exp(scale · Q Kᵀ − LSE) is
// recomputed per tile.
//   delta [B, H, T] = Σ_d dO ∘ O                                           (attentionDeltaKernel)
//   dS = P ∘ (dO Vᵀ − delta)
//   dV [B, KV, S, D] = Σ_{g < H/KV} Pᵀ dO,  dK = scale · Σ_g dSᵀ Q          (attentionDkDvKernel)
//   dQ [B, H, T, D] = scale · dS K                                          (attentionDqKernel)
// dK/dV: one workgroup per (b, kv head, block of BK = rows keys); it walks the G query heads of its
// group and the query blocks that can see its keys, so each dK/dV row is summed by one thread.
// dQ: one workgroup per (b, h, block of BQ = rows queries), walking the key blocks its rows see.
// Per step both run the same two phases, 3 barriers:
//   stage the other side's two tiles | s, dp [RQ, RK] = own rows · staged rows (2·(RQ + RK) vec4
//   reads per 8·RQ·RK FMAs) → P or dS into workgroup memory | accumulators [RQ, NC units] +=
//   Σ_j weights[r, j] · tile[j, n] (per 4 j: RQ weight vec4s and 4·NC unit reads per 16·RQ·NC FMAs,
//   twice in dK/dV).
import {
  ATTENTION_PARAMS, type AttentionTiles, decodeWorkgroup, stageRows, threads, type Units, units, unroll, visible,
} from './attention-common.ts';
import { entry1d, type Kernel, LINEAR_WORKGROUP, uniformBlock } from './wgsl.ts';

// delta: one thread per query row. Bindings: 0 O, 1 dO, 2 delta (read_write), 3 uniform { n }.
export function attentionDeltaKernel(D: number): Kernel {
  const params = ['n'];
  const u = units(D);
  const code = `
@group(0) @binding(0) var<storage, read> O: array<${u.T}>;
@group(0) @binding(1) var<storage, read> DO: array<${u.T}>;
@group(0) @binding(2) var<storage, read_write> DELTA: array<f32>;
${uniformBlock(params, 3)}
${entry1d(`  if (i >= P.n) { return; }
  var acc = 0.0;
  for (var d = 0u; d < ${u.DU}u; d = d + 1u) { acc = acc + ${u.dot(`O[i * ${u.DU}u + d]`, `DO[i * ${u.DU}u + d]`)}; }
  DELTA[i] = acc;`)}`;
  return { key: `attention-delta:D${D}`, code, params, workgroupSize: 256 };
}

/** Tiles tried in order (rows owned, cols per step, RQ, TJ); the same list serves dK/dV and dQ. */
// H100, forward + backward at B 8 H 9 T 512 D 64 (bench/NOTES.md): RQ 2 TJ 16 0.967 ms, RQ 4 TJ 16
// 1.077 (the previous default): two query rows per thread, twice the threads, hides more latency.
export const BACKWARD_TILES: AttentionTiles[] = [
  { rows: 32, cols: 32, RQ: 2, TJ: 16 }, // 256 threads; 43.5 KB at D = 64
  { rows: 32, cols: 32, RQ: 4, TJ: 16 }, // 128 threads; 43.5 KB
  { rows: 32, cols: 16, RQ: 4, TJ: 8 }, // 64 threads; 30.5 KB at D = 64 (devices with 32 KB)
  { rows: 16, cols: 16, RQ: 2, TJ: 8 },
  { rows: 8, cols: 16, RQ: 2, TJ: 4 },
  { rows: 4, cols: 16, RQ: 1, TJ: 4 },
];

/** Bytes of workgroup memory either tiled backward kernel uses (dK/dV's, the larger). */
export function attentionBackwardBytes(D: number, t: AttentionTiles): number {
  const u = units(D);
  return 4 * (2 * (t.rows + t.cols) * u.DP * u.W + 2 * t.rows * t.cols + 3 * t.cols + t.rows);
}

/** Bindings shared by the tiled backward kernels: inputs, then segments, then outputs. */
function bindings(u: Units, segments: boolean, outs: string[]): string {
  const ins: [string, string][] = [['Q', u.T], ['K', u.T], ['V', u.T], ['DO', u.T], ['LSE', 'f32'], ['DELTA', 'f32']];
  const lines = ins.map(([n, t], k) => `@group(0) @binding(${k}) var<storage, read> ${n}: array<${t}>;`);
  let k = ins.length;
  if (segments) {
    lines.push(`@group(0) @binding(${k++}) var<storage, read> SQ: array<i32>;`);
    lines.push(`@group(0) @binding(${k++}) var<storage, read> SK: array<i32>;`);
  }
  for (const n of outs) lines.push(`@group(0) @binding(${k++}) var<storage, read_write> ${n}: array<${u.T}>;`);
  return `${lines.join('\n')}\n${uniformBlock(ATTENTION_PARAMS, k)}`;
}

interface Geometry { u: Units; t: AttentionTiles; RK: number; NC: number; C4: number; WG: number }

function geometry(D: number, t: AttentionTiles, op: string): Geometry {
  if (t.cols % t.TJ !== 0 || t.cols % 4 !== 0 || t.rows % t.RQ !== 0) throw new Error(`${op}: bad tiles ${JSON.stringify(t)}`);
  const u = units(D);
  return { u, t, RK: t.cols / t.TJ, NC: Math.ceil(u.DU / t.TJ), C4: t.cols / 4, WG: threads(t) };
}

const own = (g: Geometry, r: number) => `(ti * ${g.t.RQ}u + ${r}u)`;
const other = (g: Geometry, k: number) => `(tj + ${k * g.t.TJ}u)`;

/** WGSL: s[r·RK + k] = A1[own r] · B1[other k], dp[·] = A2[own r] · B2[other k], over the head dim. */
function scores(g: Geometry, A1: string, A2: string, B1: string, B2: string): string {
  const { u, t: { RQ }, RK } = g;
  const pairs = Array.from({ length: RQ * RK }, (_, i) => i);
  return `var s: array<f32, ${RQ * RK}>;
      var dp: array<f32, ${RQ * RK}>;
${pairs.map((i) => `      s[${i}] = 0.0; dp[${i}] = 0.0;`).join('\n')}
      for (var d = 0u; d < ${u.DU}u; d = d + 1u) {
${unroll(RQ, (r) => `        let a${r} = ${A1}[${own(g, r)}][d]; let c${r} = ${A2}[${own(g, r)}][d];`)}
${unroll(RK, (k) => `        let b${k} = ${B1}[${other(g, k)}][d]; let e${k} = ${B2}[${other(g, k)}][d];`)}
${pairs.map((i) => `        s[${i}] = s[${i}] + ${u.dot(`a${Math.floor(i / RK)}`, `b${i % RK}`)}; dp[${i}] = dp[${i}] + ${u.dot(`c${Math.floor(i / RK)}`, `e${i % RK}`)};`).join('\n')}
      }`;
}

/** WGSL: store the value `expr(r, k)` of own row r, other row k into the [rows, cols] vec4 tile `tile`. */
function storeWeights(g: Geometry, tile: string, value: (i: number) => string): string {
  return Array.from({ length: g.t.RQ * g.RK }, (_, i) => {
    const r = Math.floor(i / g.RK), k = i % g.RK;
    return `      ${tile}[${own(g, r)}][${other(g, k)} / 4u][${other(g, k)} % 4u] = ${value(i)};`;
  }).join('\n');
}

/** WGSL: acc[r·NC + n] += Σ_j W[own r, j] · X[j, unit tj + TJ·n] for each (acc, W, X). */
function accumulate(g: Geometry, terms: [acc: string, W: string, X: string][]): string {
  const { u, t: { RQ, TJ }, NC, C4 } = g;
  const col = (n: number) => `min(tj + ${n * TJ}u, ${u.DU - 1}u)`; // past DU: computed, never written
  return `for (var j4 = 0u; j4 < ${C4}u; j4 = j4 + 1u) {
${terms.map(([, W], a) => unroll(RQ, (r) => `        let w${a}_${r} = ${W}[${own(g, r)}][j4];`)).join('\n')}
${unroll(4, (c) => `        {
${terms.map(([, , X], a) => unroll(NC, (n) => `          let x${a}_${n} = ${X}[j4 * 4u + ${c}u][${col(n)}];`)).join('\n')}
${terms.map(([acc], a) => unroll(RQ, (r) => unroll(NC, (n) => `          ${acc}[${r * NC + n}] = ${acc}[${r * NC + n}] + w${a}_${r}[${c}] * x${a}_${n};`))).join('\n')}
        }`)}
      }`;
}

/** WGSL: write acc (times `mul`) to rows `row(r)` of OUT at `base`, for rows below `n`. */
function writeRows(g: Geometry, OUT: string, acc: string, base: string, row: (r: number) => string, n: string, mul = ''): string {
  const { u, t: { RQ, TJ }, NC } = g;
  return unroll(RQ, (r) => `  if (${row(r)} < ${n}) {
${unroll(NC, (c) => `    if (tj + ${c * TJ}u < ${u.DU}u) { ${OUT}[${base} + (${row(r)}) * ${u.DU}u + tj + ${c * TJ}u] = ${acc}[${r * NC + c}]${mul}; }`)}
  }`);
}

const ENTRY = `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.total) { return; } // uniform per workgroup, so the barriers below stay uniform`;

const cache = new Map<string, Kernel>();

function memo(key: string, WG: number, build: () => string): Kernel {
  let k = cache.get(key);
  if (!k) cache.set(key, k = { key, code: build(), params: ATTENTION_PARAMS, workgroupSize: WG });
  return k;
}

const tileKey = (t: AttentionTiles) => `r${t.rows}:c${t.cols}:rq${t.RQ}:tj${t.TJ}`;

// dK, dV; tiles.rows = BK keys owned, tiles.cols = BQ queries per step. Blocks = ceil(S / BK).
// Bindings: 0 Q, 1 K, 2 V, 3 dO, 4 LSE, 5 delta, [6 SQ, 7 SK], then dK, dV, then the uniform block.
export function attentionDkDvKernel(D: number, t: AttentionTiles, segments: boolean): Kernel {
  const g = geometry(D, t, 'attention dK/dV');
  const { u, RK, NC, C4, WG } = g, RQ = t.RQ, BK = t.rows, BQ = t.cols;
  return memo(`attention-dkdv:D${D}:${tileKey(t)}${segments ? ':seg' : ''}`, WG, () => `
${bindings(u, segments, ['DK', 'DV'])}
var<workgroup> KS: array<array<${u.T}, ${u.DP}>, ${BK}>;
var<workgroup> VS: array<array<${u.T}, ${u.DP}>, ${BK}>;
var<workgroup> QS: array<array<${u.T}, ${u.DP}>, ${BQ}>;
var<workgroup> DOS: array<array<${u.T}, ${u.DP}>, ${BQ}>;
var<workgroup> PS: array<array<vec4<f32>, ${C4}>, ${BK}>; // P [keys, queries]
var<workgroup> DSS: array<array<vec4<f32>, ${C4}>, ${BK}>; // dS [keys, queries]
var<workgroup> LS: array<f32, ${BQ}>;
var<workgroup> DL: array<f32, ${BQ}>;
var<workgroup> SEGQ: array<i32, ${BQ}>;
var<workgroup> SEGK: array<i32, ${BK}>;

${ENTRY.replace('WG', String(WG))}
  ${decodeWorkgroup('KV', false)}
  let G = P.H / P.KV;
  let k0 = blk * ${BK}u;
  let ti = lid / ${t.TJ}u;
  let tj = lid % ${t.TJ}u;
  let kBase = bh * P.S * ${u.DU}u;
  let scale = bitcast<f32>(P.scale);
  ${stageRows(u, 'KS', 'K', BK, WG, 'kBase', 'k0', 'P.S')}
  ${stageRows(u, 'VS', 'V', BK, WG, 'kBase', 'k0', 'P.S')}
  ${segments ? `for (var e = lid; e < ${BK}u; e = e + ${WG}u) { var x = -1; if (k0 + e < P.S) { x = SK[b * P.S + k0 + e]; } SEGK[e] = x; }` : ''}
  var dk: array<${u.T}, ${RQ * NC}>;
  var dv: array<${u.T}, ${RQ * NC}>;
${unroll(RQ * NC, (i) => `  dk[${i}] = ${u.zero}; dv[${i}] = ${u.zero};`)}
  // Queries before k0 − past see none of these keys.
  var tStart = 0u;
  if (k0 > P.past) { tStart = ((k0 - P.past) / ${BQ}u) * ${BQ}u; }
  for (var g = 0u; g < G; g = g + 1u) {
    let qh = b * P.H + head * G + g; // b · H + query head
    let qBase = qh * P.T * ${u.DU}u;
    for (var q0 = tStart; q0 < P.T; q0 = q0 + ${BQ}u) {
      ${stageRows(u, 'QS', 'Q', BQ, WG, 'qBase', 'q0', 'P.T', ' * scale')}
      ${stageRows(u, 'DOS', 'DO', BQ, WG, 'qBase', 'q0', 'P.T')}
      for (var e = lid; e < ${BQ}u; e = e + ${WG}u) {
        var lse = 0.0;
        var dl = 0.0;
        if (q0 + e < P.T) { lse = LSE[qh * P.T + q0 + e]; dl = DELTA[qh * P.T + q0 + e]; }
        LS[e] = lse;
        DL[e] = dl;
        ${segments ? 'var sq = -1; if (q0 + e < P.T) { sq = SQ[b * P.T + q0 + e]; } SEGQ[e] = sq;' : ''}
      }
      workgroupBarrier();
      ${scores(g, 'KS', 'VS', 'QS', 'DOS')}
${Array.from({ length: RQ * RK }, (_, i) => {
    const r = Math.floor(i / RK), k = i % RK, q = other(g, k);
    return `      let p${i} = select(0.0, exp(s[${i}] - LS[${q}]), ${visible(segments, `q0 + ${q}`, `k0 + ${own(g, r)}`, `SEGQ[${q}]`, `SEGK[${own(g, r)}]`)});
      let ds${i} = p${i} * (dp[${i}] - DL[${q}]);`;
  }).join('\n')}
${storeWeights(g, 'PS', (i) => `p${i}`)}
${storeWeights(g, 'DSS', (i) => `ds${i}`)}
      workgroupBarrier();
      ${accumulate(g, [['dv', 'PS', 'DOS'], ['dk', 'DSS', 'QS']])}
      workgroupBarrier();
    }
  }
${writeRows(g, 'DK', 'dk', 'kBase', (r) => `k0 + ${own(g, r)}`, 'P.S')}
${writeRows(g, 'DV', 'dv', 'kBase', (r) => `k0 + ${own(g, r)}`, 'P.S')}
}`);
}

// dQ; tiles.rows = BQ queries owned, tiles.cols = BK keys per step. Blocks = ceil(T / BQ).
// Bindings: 0 Q, 1 K, 2 V, 3 dO, 4 LSE, 5 delta, [6 SQ, 7 SK], then dQ, then the uniform block.
export function attentionDqKernel(D: number, t: AttentionTiles, segments: boolean): Kernel {
  const g = geometry(D, t, 'attention dQ');
  const { u, RK, NC, C4, WG } = g, RQ = t.RQ, BQ = t.rows, BK = t.cols;
  return memo(`attention-dq:D${D}:${tileKey(t)}${segments ? ':seg' : ''}`, WG, () => `
${bindings(u, segments, ['DQ'])}
var<workgroup> QS: array<array<${u.T}, ${u.DP}>, ${BQ}>;
var<workgroup> DOS: array<array<${u.T}, ${u.DP}>, ${BQ}>;
var<workgroup> KS: array<array<${u.T}, ${u.DP}>, ${BK}>;
var<workgroup> VS: array<array<${u.T}, ${u.DP}>, ${BK}>;
var<workgroup> DSS: array<array<vec4<f32>, ${C4}>, ${BQ}>; // dS [queries, keys]
var<workgroup> SEGK: array<i32, ${BK}>;

${ENTRY.replace('WG', String(WG))}
  ${decodeWorkgroup('H', true)}
  let kvh = head / (P.H / P.KV);
  let q0 = blk * ${BQ}u;
  let ti = lid / ${t.TJ}u;
  let tj = lid % ${t.TJ}u;
  let qBase = bh * P.T * ${u.DU}u;
  let kBase = (b * P.KV + kvh) * P.S * ${u.DU}u;
  let scale = bitcast<f32>(P.scale);
  ${stageRows(u, 'QS', 'Q', BQ, WG, 'qBase', 'q0', 'P.T', ' * scale')}
  ${stageRows(u, 'DOS', 'DO', BQ, WG, 'qBase', 'q0', 'P.T')}
${unroll(RQ, (r) => `  let t${r} = q0 + ${own(g, r)};
  var lse${r} = 0.0;
  var dl${r} = 0.0;
  ${segments ? `var sq${r} = -1;` : ''}
  if (t${r} < P.T) {
    lse${r} = LSE[bh * P.T + t${r}];
    dl${r} = DELTA[bh * P.T + t${r}];
    ${segments ? `sq${r} = SQ[b * P.T + t${r}];` : ''}
  }`)}
  var dq: array<${u.T}, ${RQ * NC}>;
${unroll(RQ * NC, (i) => `  dq[${i}] = ${u.zero};`)}
  let kEnd = min(P.S, P.past + q0 + ${BQ}u);
  for (var k0 = 0u; k0 < kEnd; k0 = k0 + ${BK}u) {
    ${stageRows(u, 'KS', 'K', BK, WG, 'kBase', 'k0', 'P.S')}
    ${stageRows(u, 'VS', 'V', BK, WG, 'kBase', 'k0', 'P.S')}
    ${segments ? `for (var e = lid; e < ${BK}u; e = e + ${WG}u) { var x = -1; if (k0 + e < P.S) { x = SK[b * P.S + k0 + e]; } SEGK[e] = x; }` : ''}
    workgroupBarrier();
    ${scores(g, 'QS', 'DOS', 'KS', 'VS')}
${storeWeights(g, 'DSS', (i) => {
    const r = Math.floor(i / RK), k = i % RK;
    return `select(0.0, exp(s[${i}] - lse${r}) * (dp[${i}] - dl${r}), ${visible(segments, `t${r}`, `k0 + ${other(g, k)}`, `sq${r}`, `SEGK[${other(g, k)}]`)})`;
  })}
    workgroupBarrier();
    ${accumulate(g, [['dq', 'DSS', 'KS']])}
    workgroupBarrier();
  }
${writeRows(g, 'DQ', 'dq', 'qBase', (r) => `t${r}`, 'P.T', ' * scale')}
}`);
}
