// f32 matmul on the GPU's matrix units: C[b] = op(A[b]) · op(B[b]) with f32 operands and result,
// each K-slice rounded to f16 on its way into workgroup memory and multiplied by subgroup matrices
// (WGSL `chromium_experimental_subgroup_matrix`: tensor cores on NVIDIA) accumulating in f32.
// This is the engine's `matmulPrecision: 'f16'` (PyTorch's `set_float32_matmul_precision('medium')`
// in spirit, with f16 where PyTorch uses bf16: the extension's float configs are f16 only).
// Products lose what f16 loses: 11 significant bits per operand (relative error ~2⁻¹¹ per term) and
// magnitudes outside ±65504 (overflow to ±inf) or below ~6e-8 (flush towards 0).
//
// Same contract as kernels/matmul.ts: bindings 0 A, 1 B, 2 C, 3 the 12-word uniform of matmulUniform
// (M, N, K, aBatchStride, bBatchStride, batchOffset, p0, p1, ldk, …); grid matmulDispatch. A and B
// are read as vec4 (vec4Aligned must hold), C written as f32. Any M and N: whole 16×16 result blocks
// are stored straight to C, blocks that straddle the edge go through workgroup memory and each lane
// writes the elements inside. Needs a subgroup size of 32.
//   A: [M, K] (row stride ldk) or, transA, [K, M]; B: [K, N] or, transB, [N, K] (row stride ldk).
// Dawn in npm `webgpu` 0.6.2 warns that the boolean-majorness load/store overloads are deprecated
// (newer Dawn removed them: bench/NOTES.md says what to change when the package moves).
//
// Layout: a workgroup computes tileM × tileN of C with sgM × sgN subgroups of 32 lanes, each owning
// a (tileM/sgM) × (tileN/sgN) block as 16×16 f32 accumulators. Each operand's K-slice (BK deep) is
// staged in the orientation it has in memory (contiguous vec4 global reads, contiguous f16 writes)
// and the subgroup-matrix loads say row- or column-major. Rows are padded by 8 halves (16 bytes) to
// spread the matrix loads over banks. The next slice's global reads are issued before the current
// slice's MMAs (register prefetch), one buffer, two barriers per slice.

export interface MmaConfig {
  tileM: number;
  tileN: number;
  BK: number;
  sgM: number; // subgroups along M
  sgN: number; // subgroups along N
}

export interface MmaKernel {
  code: string;
  key: string;
  tileM: number;
  tileN: number;
  workgroupSize: [number, number, number];
  workgroupStorageBytes: number;
  config: MmaConfig;
}

/** What the kernel does to each operand, on the host: round to the nearest f16 (ties to even), as the f32 it equals. */
export function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity; // past the largest f16 (65504) by half an ulp or more
  const ulp = 2 ** (Math.max(Math.floor(Math.log2(a)), -14) - 10); // subnormals share the smallest exponent's ulp
  const q = a / ulp, f = Math.floor(q), r = q - f;
  return Math.sign(x) * (r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f) * ulp;
}

/** The subgroup-matrix shape (f16 × f16 → f32) every NVIDIA config list has. */
export const MMA = 16;
const SUBGROUP = 32;
const PAD = 8;

export const MMA_PRESETS = {
  big: { tileM: 128, tileN: 128, BK: 32, sgM: 2, sgN: 4 },
  medium: { tileM: 64, tileN: 64, BK: 32, sgM: 2, sgN: 2 },
} as const satisfies Record<string, MmaConfig>;

/** Whether the MMA kernel serves this product (else the f32 kernels do). */
export function mmaEligible(p: { m: number; n: number; k: number; transA: boolean; transB: boolean; aBatchStride: number; bBatchStride: number }): boolean {
  const aContig = p.transA ? p.m : p.k, bContig = p.transB ? p.k : p.n;
  return p.k >= 32 && p.m >= 32 && p.n >= 32 &&
    aContig % 4 === 0 && bContig % 4 === 0 && p.aBatchStride % 4 === 0 && p.bBatchStride % 4 === 0;
}

/**
 * The kernel for [m, n] × batch: big when its grid fills ~2 waves of a large GPU and its workgroup
 * memory (~29 KB) fits the device's limit, else medium (~14 KB, inside WebGPU's default 16 KB).
 */
export function chooseMmaKernel(m: number, n: number, batch: number, transA: boolean, transB: boolean, maxWorkgroupStorage = 16384): MmaKernel {
  const big = MMA_PRESETS.big;
  if (Math.ceil(m / big.tileM) * Math.ceil(n / big.tileN) * batch >= 256) {
    const k = mmaKernel(big, transA, transB);
    if (k.workgroupStorageBytes <= maxWorkgroupStorage) return k;
  }
  return mmaKernel(MMA_PRESETS.medium, transA, transB);
}

/** One operand's staging: a rows × cols slice of global memory (cols contiguous) → f16 workgroup rows. */
interface Stage { name: 'A' | 'B'; rows: number; cols: number; stride: number }

function stageOf(name: 'A' | 'B', c: MmaConfig, trans: boolean): Stage {
  const along = name === 'A' ? c.tileM : c.tileN;
  // Stored [rows, K] (A, or Bᵀ): rows are the tile's m (n) and K is contiguous; else K is the row index.
  const kContig = name === 'A' ? !trans : trans;
  return kContig ? { name, rows: along, cols: c.BK, stride: c.BK + PAD } : { name, rows: c.BK, cols: along, stride: along + PAD };
}

export function mmaKernel(c: MmaConfig, transA: boolean, transB: boolean): MmaKernel {
  const threads = c.sgM * c.sgN * SUBGROUP;
  const bm = c.tileM / c.sgM / MMA, bn = c.tileN / c.sgN / MMA; // 16×16 blocks per subgroup
  if (!Number.isInteger(bm) || !Number.isInteger(bn) || c.BK % MMA !== 0) throw new Error(`matmul-mma: bad config ${JSON.stringify(c)}`);
  const sa = stageOf('A', c, transA), sb = stageOf('B', c, transB);
  for (const s of [sa, sb]) {
    if ((s.rows * s.cols / 4) % threads !== 0) throw new Error(`matmul-mma: ${s.name} slice ${s.rows}×${s.cols} does not split over ${threads} threads`);
  }
  const aKContig = !transA, bKContig = transB;
  const sizeA = sa.rows * sa.stride, sizeB = sb.rows * sb.stride;
  const subgroups = c.sgM * c.sgN, edge = MMA * MMA; // one 16×16 f32 scratch block per subgroup
  const key = `mma_${transA ? 't' : 'n'}${transB ? 't' : 'n'}_${c.tileM}x${c.tileN}x${c.BK}_${c.sgM}x${c.sgN}`;

  // Global reads of one slice into registers; `rowBase`/`colBase` in the operand's stored layout.
  const loads = (s: Stage, kContig: boolean) => {
    const per = s.rows * s.cols / 4 / threads, c4 = s.cols / 4;
    // Stored [rows, K]: row = m (n) limited by M (N), column = k limited by K, row stride ldk.
    // Stored [K, rows]: row = k limited by K, column = m (n) limited by M (N), row stride M (N).
    const lim = s.name === 'A' ? 'u.M' : 'u.N';
    const [rowLim, colLim, rowStride] = kContig ? [lim, 'u.K', 'u.ldk'] : ['u.K', lim, lim];
    const base = s.name === 'A' ? 'aBase' : 'bBase';
    const [rowOff, colOff] = kContig ? [s.name === 'A' ? 'm0' : 'n0', 'k0'] : ['k0', s.name === 'A' ? 'm0' : 'n0'];
    return Array.from({ length: per }, (_, i) => `
    {
      let idx = lid + ${i * threads}u;
      let r = ${rowOff} + idx / ${c4}u;
      let c = ${colOff} + (idx % ${c4}u) * 4u;
      let ok = r < ${rowLim} && c < ${colLim};
      let at = select(0u, (${base} + r * ${rowStride} + c) / 4u, ok);
      reg${s.name}[${i}] = select(vec4<f32>(0.0), ${s.name}[at], ok);
    }`).join('');
  };
  const stores = (s: Stage) => {
    const per = s.rows * s.cols / 4 / threads, c4 = s.cols / 4;
    return Array.from({ length: per }, (_, i) => `
    {
      let idx = lid + ${i * threads}u;
      let o = (idx / ${c4}u) * ${s.stride}u + (idx % ${c4}u) * 4u;
      let h = vec4<f16>(reg${s.name}[${i}]);
      sh${s.name}[o] = h.x; sh${s.name}[o + 1u] = h.y; sh${s.name}[o + 2u] = h.z; sh${s.name}[o + 3u] = h.w;
    }`).join('');
  };
  const perA = sa.rows * sa.cols / 4 / threads, perB = sb.rows * sb.cols / 4 / threads;
  // Subgroup-matrix loads for the k-step kk: left (A) block i of this subgroup, right (B) block j.
  const leftLoad = (i: number) => aKContig
    ? `subgroupMatrixLoad<subgroup_matrix_left<f16, ${MMA}, ${MMA}>>(&shA, (sm0 + ${i * MMA}u) * ${sa.stride}u + kk, false, ${sa.stride}u)`
    : `subgroupMatrixLoad<subgroup_matrix_left<f16, ${MMA}, ${MMA}>>(&shA, kk * ${sa.stride}u + sm0 + ${i * MMA}u, true, ${sa.stride}u)`;
  const rightLoad = (j: number) => bKContig
    ? `subgroupMatrixLoad<subgroup_matrix_right<f16, ${MMA}, ${MMA}>>(&shB, (sn0 + ${j * MMA}u) * ${sb.stride}u + kk, true, ${sb.stride}u)`
    : `subgroupMatrixLoad<subgroup_matrix_right<f16, ${MMA}, ${MMA}>>(&shB, kk * ${sb.stride}u + sn0 + ${j * MMA}u, false, ${sb.stride}u)`;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const mmas = `
      ${range(bm).map((i) => `let a${i} = ${leftLoad(i)};`).join('\n      ')}
      ${range(bn).map((j) => `{
        let b = ${rightLoad(j)};
        ${range(bm).map((i) => `acc${i}_${j} = subgroupMatrixMultiplyAccumulate(a${i}, b, acc${i}_${j});`).join('\n        ')}
      }`).join('\n      ')}`;
  const code = /* wgsl */ `
enable f16;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);

struct Params { M: u32, N: u32, K: u32, aBatchStride: u32, bBatchStride: u32, batchOffset: u32, p0: u32, p1: u32, ldk: u32, q0: u32, q1: u32, q2: u32 }
@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> u: Params;

var<workgroup> shA: array<f16, ${sizeA}>; // ${sa.rows} × ${sa.cols} (+${PAD}) of A's slice, ${aKContig ? 'rows m, columns k' : 'rows k, columns m'}
var<workgroup> shC: array<f32, ${subgroups * edge}>; // a result block that straddles M or N, per subgroup
var<workgroup> shB: array<f16, ${sizeB}>; // ${sb.rows} × ${sb.cols} (+${PAD}) of B's slice, ${bKContig ? 'rows n, columns k' : 'rows k, columns n'}

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let batch = wg.z + u.batchOffset;
  let aBase = batch * u.aBatchStride;
  let bBase = batch * u.bBatchStride;
  let m0 = wg.y * ${c.tileM}u;
  let n0 = wg.x * ${c.tileN}u;
  let sg = lid / ${SUBGROUP}u; // subgroup-uniform: the device's subgroups are ${SUBGROUP} lanes
  let sm0 = (sg % ${c.sgM}u) * ${bm * MMA}u; // this subgroup's rows and columns within the tile
  let sn0 = (sg / ${c.sgM}u) * ${bn * MMA}u;
  ${range(bm).flatMap((i) => range(bn).map((j) => `var acc${i}_${j}: subgroup_matrix_result<f32, ${MMA}, ${MMA}>;`)).join('\n  ')}
  var regA: array<vec4<f32>, ${perA}>;
  var regB: array<vec4<f32>, ${perB}>;
  var k0 = 0u;
  ${loads(sa, aKContig)}
  ${loads(sb, bKContig)}
  loop {
    if (k0 >= u.K) { break; }
    ${stores(sa)}
    ${stores(sb)}
    workgroupBarrier();
    k0 = k0 + ${c.BK}u;
    if (k0 < u.K) {
      ${loads(sa, aKContig)}
      ${loads(sb, bKContig)}
    }
    for (var kk = 0u; kk < ${c.BK}u; kk = kk + ${MMA}u) {
      ${mmas}
    }
    workgroupBarrier();
  }
  let cBase = batch * u.M * u.N;
  if (m0 + ${c.tileM}u <= u.M && n0 + ${c.tileN}u <= u.N) { // workgroup-uniform: the whole tile is inside C
    ${range(bm).flatMap((i) => range(bn).map((j) =>
      `subgroupMatrixStore(&C, cBase + (m0 + sm0 + ${i * MMA}u) * u.N + n0 + sn0 + ${j * MMA}u, acc${i}_${j}, false, u.N);`)).join('\n    ')}
  } else { // an edge tile: each block through workgroup memory, elements inside C written by the lanes
    let lane = lid % ${SUBGROUP}u;
    ${range(bm).flatMap((i) => range(bn).map((j) => `subgroupMatrixStore(&shC, sg * ${edge}u, acc${i}_${j}, false, ${MMA}u);
    workgroupBarrier();
    for (var e = lane; e < ${edge}u; e = e + ${SUBGROUP}u) {
      let r = m0 + sm0 + ${i * MMA}u + e / ${MMA}u;
      let cc = n0 + sn0 + ${j * MMA}u + e % ${MMA}u;
      if (r < u.M && cc < u.N) { C[cBase + r * u.N + cc] = shC[sg * ${edge}u + e]; }
    }
    workgroupBarrier();`)).join('\n    ')}
  }
}
`;
  return {
    code, key, tileM: c.tileM, tileN: c.tileN, workgroupSize: [threads, 1, 1], workgroupStorageBytes: 2 * (sizeA + sizeB) + 4 * subgroups * edge, config: c,
  };
}
