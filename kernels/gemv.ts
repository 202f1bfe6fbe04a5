// Few-row matmul against weights stored [N, K] (a Linear's x · Wᵀ), for decoding, where the tiled
// matmul would spend a 16- or 64-row tile on a few rows and be bound by launch, not by bytes:
//   X [M, K], weights W0..W{nw−1} [Ni, K] → Y. The rows are split into blocks of MB ≤ GEMV_MAX_ROWS
// (MB a constant of the kernel, M a uniform): a batch of 64 decoding sequences is 4 blocks of 16,
// each block re-reading the weights (from L2 on a GPU: the workgroups of one column block run
// together). Every row's arithmetic is the same whatever M is.
// Work: one workgroup of 64 threads per (row block, CW output columns); thread (slot = lid / 8, lane = lid % 8)
// owns NC columns and the K units lane, lane + 8, ...: the 8 lanes of a slot read 8 consecutive
// units of one weight row (128 contiguous bytes with vec4 units), X comes from cache. Each thread
// keeps M·NC(·2) partial dot products; the 8 lanes are summed through workgroup memory
// (RED[slot][value][lane]), then the workgroup writes its M × CW outputs.
// Modes (what one output column c means):
//   concat: c < N0 → row c of W0, c < N0 + N1 → row c − N0 of W1, ... (q/k/v in one pass), NT = ΣNi
//   swiglu: silu(W0[c] · x) · (W1[c] · x) with N0 = N1 = NT (gate and up), NC = 1
// Options: norm — X is RMS-normalised on the fly with weight G [K]: x̂ = x · G · inv, inv =
// 1 / sqrt(Σx² / K + eps) per row (the lanes also sum x²; inv is applied after the dot products);
// residual — R [M, NT] is added to the output (the residual stream of a decoder block).
// Bindings: 0 X, 1.. W0..W{nw−1}, [G], [R], then Y (read_write), then uniform
//   { KU (units per row), K (true K), N0, N1, N2, NT, groups, eps (f32 bits), M (rows), colGroups }.
// Dispatch: groups = colGroups · ceil(M / MB) workgroups (colGroups = ceil(NT / CW)), folded;
// workgroup w takes column block w % colGroups of row block w / colGroups. Rows past M (the last
// block) read row M − 1 and write nothing. Units are vec4 when K % 4 = 0.
import { MATH_F32 } from './math.ts';
import { type Kernel, LINEAR_WORKGROUP, uniformBlock } from './wgsl.ts';

/** Rows of one block at most (accumulators live in registers: MB · NC · 2 of them). */
export const GEMV_MAX_ROWS = 16;
const LANES = 8;
const SLOTS = 8;
const WG = LANES * SLOTS;

export interface GemvSpec {
  /** Rows per block (MB), 1..GEMV_MAX_ROWS. */
  M: number;
  /** Weight bindings: 1 to 3 with concat, 2 with swiglu. */
  weights: number;
  mode: 'concat' | 'swiglu';
  norm: boolean;
  residual: boolean;
  vec4: boolean;
}

export const GEMV_PARAMS = ['KU', 'K', 'N0', 'N1', 'N2', 'NT', 'groups', 'eps', 'M', 'colGroups'];

/** Row blocks for M rows and the rows per block (as even as the blocks allow: 20 rows are 2 × 10). */
export function gemvRowBlocks(M: number): { blocks: number; rows: number } {
  const blocks = Math.ceil(M / GEMV_MAX_ROWS);
  return { blocks, rows: Math.ceil(M / blocks) };
}

/** Output columns per workgroup. */
export function gemvColumns(s: Pick<GemvSpec, 'mode'>): number {
  return SLOTS * (s.mode === 'swiglu' ? 1 : 2);
}

const cache = new Map<string, Kernel>();

export function gemvKernel(s: GemvSpec): Kernel {
  const key = `gemv:m${s.M}:w${s.weights}:${s.mode}${s.norm ? ':norm' : ''}${s.residual ? ':res' : ''}${s.vec4 ? ':v4' : ''}`;
  let k = cache.get(key);
  if (!k) cache.set(key, k = { key, code: gemvWgsl(s), params: GEMV_PARAMS, workgroupSize: WG });
  return k;
}

const unroll = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');

function gemvWgsl(s: GemvSpec): string {
  const { M, weights: nw, mode } = s;
  if (!Number.isInteger(M) || M < 1 || M > GEMV_MAX_ROWS) throw new Error(`gemv: M = ${M} must be 1..${GEMV_MAX_ROWS}`);
  if (mode === 'swiglu' ? nw !== 2 : nw < 1 || nw > 3) throw new Error(`gemv: ${mode} takes ${mode === 'swiglu' ? 2 : '1 to 3'} weights, got ${nw}`);
  const T = s.vec4 ? 'vec4<f32>' : 'f32';
  const zero = s.vec4 ? 'vec4<f32>(0.0)' : '0.0';
  const dot = (a: string, b: string) => (s.vec4 ? `dot(${a}, ${b})` : `(${a} * ${b})`);
  const PW = mode === 'swiglu' ? 2 : 1; // dot products per column
  const NC = mode === 'swiglu' ? 1 : 2; // columns per thread
  const CW = SLOTS * NC;
  const V = M * NC * PW; // partial sums per thread
  const R = V + (s.norm ? M : 0); // values per thread in workgroup memory
  let b = 0;
  const decl: string[] = [`@group(0) @binding(${b++}) var<storage, read> X: array<${T}>;`];
  for (let i = 0; i < nw; i++) decl.push(`@group(0) @binding(${b++}) var<storage, read> W${i}: array<${T}>;`);
  if (s.norm) decl.push(`@group(0) @binding(${b++}) var<storage, read> G: array<${T}>;`);
  if (s.residual) decl.push(`@group(0) @binding(${b++}) var<storage, read> Res: array<f32>;`);
  decl.push(`@group(0) @binding(${b++}) var<storage, read_write> Y: array<f32>;`);
  // Weight row of output column c at unit k (zero past the last column).
  const rowFns = mode === 'swiglu'
    ? unroll(2, (i) => `fn wrow${i}(c: u32, k: u32) -> ${T} { if (c < P.N0) { return W${i}[c * P.KU + k]; } return ${zero}; }`)
    : `fn wrow0(c: u32, k: u32) -> ${T} {
${unroll(nw, (i) => {
    const lo = ['0u', 'P.N0', '(P.N0 + P.N1)'][i], hi = ['P.N0', '(P.N0 + P.N1)', 'P.NT'][i];
    return `  if (c < ${hi}) { return W${i}[(c - ${lo}) * P.KU + k]; }`;
  })}
  return ${zero};
}`;
  const acc = (m: number, j: number, p: number) => `a${m}_${j}_${p}`;
  return `${MATH_F32}
${decl.join('\n')}
${uniformBlock(GEMV_PARAMS, b)}
var<workgroup> RED: array<f32, ${WG * R}>;
${rowFns}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.groups) { return; } // uniform per workgroup: the barrier below stays uniform
  let cb = w % P.colGroups;
  let r0 = (w / P.colGroups) * ${M}u;
  let lane = lid % ${LANES}u;
  let slot = lid / ${LANES}u;
  let c0 = cb * ${CW}u + slot * ${NC}u;
${unroll(M, (m) => unroll(NC, (j) => unroll(PW, (p) => `  var ${acc(m, j, p)} = 0.0;`)))}
${s.norm ? unroll(M, (m) => `  var ss${m} = 0.0;`) : ''}
${unroll(M, (m) => `  let xrow${m} = min(r0 + ${m}u, P.M - 1u) * P.KU;`)}
  for (var k = lane; k < P.KU; k = k + ${LANES}u) {
${s.norm ? '    let g = G[k];' : ''}
${unroll(M, (m) => s.norm
    ? `    let xr${m} = X[xrow${m} + k]; ss${m} = ss${m} + ${dot(`xr${m}`, `xr${m}`)}; let x${m} = xr${m} * g;`
    : `    let x${m} = X[xrow${m} + k];`)}
${unroll(NC, (j) => unroll(PW, (p) => `    let w${j}_${p} = wrow${p}(c0 + ${j}u, k);`))}
${unroll(M, (m) => unroll(NC, (j) => unroll(PW, (p) => `    ${acc(m, j, p)} = ${acc(m, j, p)} + ${dot(`x${m}`, `w${j}_${p}`)};`)))}
  }
  let base = slot * ${R}u;
${unroll(M, (m) => unroll(NC, (j) => unroll(PW, (p) => `  RED[(base + ${(m * NC + j) * PW + p}u) * ${LANES}u + lane] = ${acc(m, j, p)};`)))}
${s.norm ? unroll(M, (m) => `  RED[(base + ${V + m}u) * ${LANES}u + lane] = ss${m};`) : ''}
  workgroupBarrier();
  for (var o = lid; o < ${M * CW}u; o = o + ${WG}u) {
    let m = o / ${CW}u;
    let cl = o % ${CW}u;
    let c = cb * ${CW}u + cl;
    let row = r0 + m;
    if (c >= P.NT || row >= P.M) { continue; }
    let rb = (cl / ${NC}u) * ${R}u; // the slot that owns column c
    let v = (m * ${NC}u + cl % ${NC}u) * ${PW}u;
    var d0 = 0.0;
${PW === 2 ? '    var d1 = 0.0;' : ''}
    for (var l = 0u; l < ${LANES}u; l = l + 1u) {
      d0 = d0 + RED[(rb + v) * ${LANES}u + l];
${PW === 2 ? `      d1 = d1 + RED[(rb + v + 1u) * ${LANES}u + l];` : ''}
    }
${s.norm ? `    var ss = 0.0;
    for (var l = 0u; l < ${LANES}u; l = l + 1u) { ss = ss + RED[(rb + ${V}u + m) * ${LANES}u + l]; }
    let inv = 1.0 / sqrt(ss / f32(P.K) + bitcast<f32>(P.eps));
    d0 = d0 * inv;
${PW === 2 ? '    d1 = d1 * inv;' : ''}` : ''}
    var y = ${mode === 'swiglu' ? 'd0 * sigmoid_(d0) * d1' : 'd0'};
${s.residual ? '    y = y + Res[row * P.NT + c];' : ''}
    Y[row * P.NT + c] = y;
  }
}`;
}
