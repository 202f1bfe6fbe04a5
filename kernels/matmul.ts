// Batched f32 matmul: C[b] = op(A[b]) · op(B[b]), C [batch, M, N] row-major, contiguous.
//   A: [M, K] (or [K, M] when transA), B: [K, N] (or [N, K] when transB).
//
// Contract (unchanged from the first version; everything new is an addition):
//   Bindings: 0 A (read), 1 B (read), 2 C (read_write), 3 uniform MatmulParams (MATMUL_PARAMS_BYTES).
//   Uniform (12 × u32): M, N, K, aBatchStride, bBatchStride, batchOffset, p0, p1, ldk, 0, 0, 0 — see
//   matmulUniform(). ldk is the row stride of operands stored [rows, K] (A, or Bᵀ); it equals K except
//   under split-K, where each batch is one K-slice of a longer row (backends/webgpu/matmul.ts).
//   Dispatch: (ceil(N / tileN), ceil(M / tileM), batches in this call ≤ 65535) — see matmulDispatch().
//   The workgroup's batch index is workgroup_id.z + batchOffset; C's batch stride is M·N.
// Additions:
//   - matmulKernel() takes the shape (m, n, k, batch strides) and picks a specialisation; without a
//     shape it returns a kernel that is correct for any shape. A kernel built for a shape is only
//     valid for shapes with the same `key` — cache pipelines by `key`.
//   - The result carries workgroupStorageBytes: the device must allow that much workgroup memory
//     (pass `maxWorkgroupStorage` = device.limits.maxComputeWorkgroupStorageSize; the WebGPU default
//     is 16384 and every kernel chosen under that default fits it).
//   - Kernels with vec4 = true bind A and B (and C, except with row-major B staging) as
//     array<vec4<f32>>; they are only chosen when every vec4 is 16-byte aligned (buffers bound at
//     offsets that are multiples of 16 bytes, as storage offsets always are).
//   - Without a shape, the result is a small bounds-checked scalar kernel (cheap to compile).
//   - matmulKernelFromConfig() takes an optional MatmulFusion: code spliced into the K loop and the
//     epilogue, with extra bindings between C and the uniform (kernels/lora-linear.ts). Without
//     one the WGSL is exactly the plain kernel's.
//
// How the fast path works (bench/NOTES.md has the measurements behind each choice; H200: 39.5
// TFLOP/s at 4096³, 0.78× PyTorch f32 with TF32 off):
//   each workgroup computes a tileM × tileN block of C; each thread a TM × TN register block made of
//   4 × 4 sub-blocks spread tileM/RM rows apart, so the per-k reads of A and B from workgroup memory
//   are vec4 loads that hit distinct banks. Tiles are k-major 3-D arrays (As[buf][k][m/4]) read with
//   constant k, so Dawn's robustness clamps touch only the loop-invariant lane index (that took the
//   fast path from 35 to 40 TFLOP/s). Operands whose contiguous axis is k are transposed on the way
//   in (or, with rowStage, kept row-major). Large shapes use one buffer and two barriers per K-slice
//   (a second resident workgroup hides latency better than register prefetch); the 64×64 tile for
//   mid-size shapes double-buffers with register prefetch, one barrier per slice.
//   The "unchecked" specialisation (M, N, K multiples of the tile) has no bounds tests at all;
//   bounds tests elsewhere are branch-free selects (unrolled branches stalled SwiftShader's compiler).

export interface MatmulConfig {
  tileM: number; // rows of C per workgroup
  tileN: number; // columns of C per workgroup
  BK: number; // K-slice staged in workgroup memory per step
  TM: number; // rows of C per thread (multiple of 4)
  TN: number; // columns of C per thread (multiple of 4)
  vec4: boolean; // 16-byte global loads/stores (needs the alignment in vec4Aligned)
  checked: boolean; // bounds tests (false needs M % tileM = N % tileN = K % BK = 0 and vec4)
  doubleBuffer: boolean; // two workgroup-memory buffers + register prefetch
  pad: boolean; // +4 floats per k-row of tiles that are transposed on the way in (bank conflicts)
  rowStage: boolean; // stage [rows, K] operands row-major instead of transposing them (vec4 only)
}

export interface MatmulKernel {
  code: string;
  tileM: number;
  tileN: number;
  workgroupSize: [number, number, number];
  workgroupStorageBytes: number;
  /** Identifies the WGSL exactly: equal keys ⇒ equal code. */
  key: string;
  config: MatmulConfig;
}

export interface MatmulKernelOptions {
  transA: boolean;
  transB: boolean;
  /** Problem shape; when given, the kernel is specialised (tile size, vec4, bounds tests). */
  m?: number;
  n?: number;
  k?: number;
  batch?: number;
  aBatchStride?: number;
  bBatchStride?: number;
  /** device.limits.maxComputeWorkgroupStorageSize (default: the WebGPU default, 16384). */
  maxWorkgroupStorage?: number;
  /** The device profile's presets in order of preference (default DEFAULT_MATMUL_TILES); see choosePreset. */
  tiles?: readonly MatmulPresetName[];
  /** Force parts of the configuration (benchmarks and tests); validated like any other. */
  config?: Partial<MatmulConfig>;
}

/** Uniform layout (12 × u32): M, N, K, aBatchStride, bBatchStride, batchOffset, p0, p1 (fusions), ldk, 0, 0, 0. */
export const MATMUL_PARAMS_BYTES = 48;

export function matmulUniform(p: {
  m: number; n: number; k: number; aBatchStride: number; bBatchStride: number; batchOffset: number; ldk?: number;
}): Uint32Array {
  return new Uint32Array([p.m, p.n, p.k, p.aBatchStride, p.bBatchStride, p.batchOffset, 0, 0, p.ldk ?? p.k, 0, 0, 0]);
}

/** Workgroup counts for `batches` products (≤ 65535; split larger batches with batchOffset). */
export function matmulDispatch(kernel: { tileM: number; tileN: number }, m: number, n: number, batches: number): [number, number, number] {
  return [Math.ceil(n / kernel.tileN), Math.ceil(m / kernel.tileM), batches];
}

export function workgroupStorageBytes(c: MatmulConfig, transA: boolean, transB: boolean): number {
  const nbuf = c.doubleBuffer ? 2 : 1;
  const a = staging(c, 'A', transA, transB), b = staging(c, 'B', transA, transB);
  return 16 * nbuf * (a.vecs * a.outer + b.vecs * b.outer);
}

/** True when every 4-element group the vec4 kernel touches is 16-byte aligned. */
export function vec4Aligned(o: {
  transA: boolean; transB: boolean; m: number; n: number; k: number; aBatchStride: number; bBatchStride: number;
}): boolean {
  const aContig = o.transA ? o.m : o.k; // length of A's rows in memory
  const bContig = o.transB ? o.k : o.n;
  return aContig % 4 === 0 && bContig % 4 === 0 && o.n % 4 === 0 &&
    o.aBatchStride % 4 === 0 && o.bBatchStride % 4 === 0;
}

export type Preset = Omit<MatmulConfig, 'vec4' | 'checked'>;
// Configurations, largest first. Measured on an H200 (bench/NOTES.md).
const BIG: Preset = { tileM: 128, tileN: 128, BK: 16, TM: 8, TN: 8, doubleBuffer: false, pad: false, rowStage: false };
const MEDIUM: Preset = { tileM: 64, tileN: 64, BK: 16, TM: 8, TN: 8, doubleBuffer: true, pad: false, rowStage: false };
// Small problems are launch-bound: short unrolled bodies (BK 8, one buffer) also keep software
// Vulkan's shader compile time (SwiftShader: ~0.5 s vs ~4 s for BIG) down in tests.
const SMALL: Preset = { tileM: 32, tileN: 32, BK: 8, TM: 4, TN: 4, doubleBuffer: false, pad: false, rowStage: false };
const SKINNY: Preset = { tileM: 16, tileN: 64, BK: 8, TM: 4, TN: 4, doubleBuffer: false, pad: false, rowStage: false };

/** The presets by name; device profiles (backends/webgpu/profiles.ts) list the ones they prefer. */
export type MatmulPresetName = 'big' | 'medium' | 'small' | 'skinny';
export const MATMUL_PRESETS: Readonly<Record<MatmulPresetName, Preset>> = { big: BIG, medium: MEDIUM, small: SMALL, skinny: SKINNY };
/**
 * Workgroups a preset's grid must reach to be chosen: enough for ~2 waves on a 132-SM GPU; below
 * that, a smaller tile finishes sooner. small and skinny take whatever is left.
 */
const MIN_WORKGROUPS: Readonly<Record<MatmulPresetName, number>> = { big: 256, medium: 128, small: 0, skinny: 0 };
/** The order measured on the H200 (bench/NOTES.md), used unless a profile says otherwise. */
export const DEFAULT_MATMUL_TILES: readonly MatmulPresetName[] = ['skinny', 'big', 'medium', 'small'];

/**
 * The preset for [m, n] × batch from `tiles`, an ordered preference: skinny for m ≤ 16 when listed;
 * else the first listed preset whose grid reaches its MIN_WORKGROUPS; else the last listed. With no
 * shape, the last listed (the smallest, by convention).
 */
export function choosePreset(tiles: readonly MatmulPresetName[], m?: number, n?: number, batch = 1): Preset {
  const unknown = tiles.filter((t) => !(t in MATMUL_PRESETS));
  if (unknown.length) throw new Error(`matmul: unknown tile preset(s) ${unknown.join(', ')} (expected ${Object.keys(MATMUL_PRESETS).join(', ')})`);
  const general = tiles.filter((t) => t !== 'skinny');
  const last = MATMUL_PRESETS[general[general.length - 1] ?? 'small'];
  if (m === undefined || n === undefined) return last;
  if (m <= 16 && tiles.includes('skinny')) return SKINNY;
  for (const t of general) {
    const p = MATMUL_PRESETS[t];
    if (Math.ceil(m / p.tileM) * Math.ceil(n / p.tileN) * batch >= MIN_WORKGROUPS[t]) return p;
  }
  return last;
}

/** Pick a configuration for a shape: enough workgroups to fill a large GPU, no wasted rows. */
export function chooseMatmulConfig(o: MatmulKernelOptions): MatmulConfig {
  const { m, n, k } = o;
  const limit = o.maxWorkgroupStorage ?? 16384;
  const tiles = o.tiles ?? DEFAULT_MATMUL_TILES;
  let base: Preset;
  let vec4 = false;
  if (m === undefined || n === undefined || k === undefined) {
    base = choosePreset(tiles);
  } else {
    base = choosePreset(tiles, m, n, o.batch ?? 1);
    vec4 = vec4Aligned({
      transA: o.transA, transB: o.transB, m, n, k,
      aBatchStride: o.aBatchStride ?? (o.batch && o.batch > 1 ? m * k : 0),
      bBatchStride: o.bBatchStride ?? (o.batch && o.batch > 1 ? k * n : 0),
    });
  }
  let c: MatmulConfig = { ...base, vec4, checked: true, ...o.config };
  if (o.config?.checked === undefined && m !== undefined && n !== undefined && k !== undefined) {
    // k = 0 stays checked: the double-buffered prologue reads slice 0 before the loop test.
    c.checked = !(c.vec4 && k > 0 && m % c.tileM === 0 && n % c.tileN === 0 && k % c.BK === 0);
  }
  // Until the tiles fit the device's workgroup memory, drop what was not asked for explicitly:
  // padding, row-major staging, double buffering, then halve BK (down to 4).
  const fits = () => workgroupStorageBytes(c, o.transA, o.transB) <= limit;
  for (const f of ['pad', 'rowStage', 'doubleBuffer'] as const) {
    if (!fits() && o.config?.[f] === undefined) c = { ...c, [f]: false };
  }
  while (!fits() && o.config?.BK === undefined && c.BK > 4) {
    c = { ...c, BK: c.BK / 2 }; // K % BK = 0 stays true, so an unchecked kernel stays valid
  }
  return c;
}

export function matmulKernel(o: MatmulKernelOptions): MatmulKernel {
  const c = chooseMatmulConfig(o);
  validateMatmulConfig(c, o);
  return matmulKernelFromConfig(c, o.transA, o.transB);
}

/**
 * The kernel for a validated configuration, optionally with a fusion (kernels/lora-linear.ts) woven
 * into its K loop and epilogue. The fusion's key is part of the kernel's key.
 */
export function matmulKernelFromConfig(c: MatmulConfig, transA: boolean, transB: boolean, fusion?: MatmulFusion): MatmulKernel {
  const wx = c.tileN / c.TN, wy = c.tileM / c.TM;
  const key = `matmul_${transA ? 't' : 'n'}${transB ? 't' : 'n'}_${c.tileM}x${c.tileN}x${c.BK}_${c.TM}x${c.TN}` +
    `_${c.vec4 ? 'v4' : 's'}_${c.checked ? 'chk' : 'unchk'}_${c.doubleBuffer ? 'db' : 'sb'}${c.pad ? '_pad' : ''}` +
    `${c.rowStage && c.vec4 && (!transA || transB) ? '_rows' : ''}`;
  return {
    code: buildWgsl(c, transA, transB, fusion),
    tileM: c.tileM,
    tileN: c.tileN,
    workgroupSize: [wx, wy, 1],
    workgroupStorageBytes: workgroupStorageBytes(c, transA, transB) + (fusion?.workgroupBytes ?? 0),
    key: fusion ? `${fusion.key}_${key}` : key,
    config: c,
  };
}

/** Throws, naming the shape and configuration, when `c` cannot run the problem in `o`. */
export function validateMatmulConfig(c: MatmulConfig, o: MatmulKernelOptions): void {
  const where = `matmulKernel(transA=${o.transA}, transB=${o.transB}, m=${o.m}, n=${o.n}, k=${o.k})`;
  const cfg = JSON.stringify(c);
  if (c.TM % 4 || c.TN % 4) throw new Error(`${where}: TM and TN must be multiples of 4, got ${cfg}`);
  if (c.tileM % c.TM || c.tileN % c.TN) throw new Error(`${where}: tileM/tileN must be multiples of TM/TN, got ${cfg}`);
  const rm = c.TM / 4, rn = c.TN / 4;
  if ((c.tileM / rm) % 4 || (c.tileN / rn) % 4) throw new Error(`${where}: tile/(T/4) must be a multiple of 4, got ${cfg}`);
  if (c.BK % 4) throw new Error(`${where}: BK must be a multiple of 4, got ${cfg}`);
  const threads = (c.tileM / c.TM) * (c.tileN / c.TN);
  if (threads > 256) throw new Error(`${where}: ${threads} threads per workgroup exceeds the WebGPU default of 256, got ${cfg}`);
  const bytes = workgroupStorageBytes(c, o.transA, o.transB);
  if (bytes > (o.maxWorkgroupStorage ?? 16384)) {
    throw new Error(`${where}: tiles need ${bytes} bytes of workgroup memory, the device allows ${o.maxWorkgroupStorage ?? 16384}; config ${cfg}`);
  }
  if (o.m !== undefined && o.n !== undefined && o.k !== undefined) {
    const shape = { m: o.m, n: o.n, k: o.k, transA: o.transA, transB: o.transB,
      aBatchStride: o.aBatchStride ?? 0, bBatchStride: o.bBatchStride ?? 0 };
    if (c.vec4 && !vec4Aligned(shape)) {
      throw new Error(`${where}: vec4 kernel needs the contiguous axes of A and B, N and the batch strides to be multiples of 4 (aBatchStride=${shape.aBatchStride}, bBatchStride=${shape.bBatchStride})`);
    }
    if (!c.checked && (o.m % c.tileM || o.n % c.tileN || o.k % c.BK)) {
      throw new Error(`${where}: unchecked kernel needs M % ${c.tileM} = N % ${c.tileN} = K % ${c.BK} = 0`);
    }
  }
  if (!c.checked && !c.vec4) throw new Error(`${where}: an unchecked kernel must also be vec4, got ${cfg}`);
}

// How each operand's K-slice is staged in workgroup memory.
//   k-major  [k][rows] (vec4 over 4 rows): operands stored [K, rows] copy straight in; operands stored
//            [rows, K] are transposed on the way in (4 scalar stores per vec4 loaded).
//   row-major [rows][k] (vec4 over 4 k's, +1 vec4 per row against bank conflicts): only for operands
//            stored [rows, K] (A without transA, B with transB) when c.rowStage and vec4; no transpose.
export interface Staging { rowMajor: boolean; rows: number; vecs: number; outer: number } // array<array<vec4, vecs>, outer>

export function staging(c: MatmulConfig, name: 'A' | 'B', transA: boolean, transB: boolean): Staging {
  const kContiguous = name === 'A' ? !transA : transB;
  const rows = name === 'A' ? c.tileM : c.tileN;
  if (kContiguous && c.rowStage && c.vec4) return { rowMajor: true, rows, vecs: c.BK / 4 + 1, outer: rows };
  return { rowMajor: false, rows, vecs: (rows + (c.pad && kContiguous ? 4 : 0)) / 4, outer: c.BK };
}

/** Where a staged operand comes from: global array, its row count, first element and first tile row (WGSL expressions). */
export interface CopySource { array: string; tile: string; rows: string; base: string; r0: string; prefix: string }

const matmulOperand = (name: 'A' | 'B'): CopySource => ({
  array: name, tile: `${name}s`, rows: name === 'A' ? 'P.M' : 'P.N', base: `${name.toLowerCase()}Base`,
  r0: name === 'A' ? 'm0' : 'n0', prefix: `p${name}`,
});

/**
 * Code that moves one operand's K-slice from global memory into registers (`load`) and from
 * registers into workgroup memory (`store`, into buffer \`sbuf\`). The tile is [rows × BK].
 *   contiguousRows: the operand is stored [K, rows] (transA, or plain B), so rows are contiguous;
 *   otherwise it is [rows, K] and each vec4 spans 4 k's.
 */
export function operandCopy(c: MatmulConfig, threads: number, src: CopySource, contiguousRows: boolean,
  st: Staging): { decl: string; load: string; store: string } {
  const W = c.vec4 ? 4 : 1;
  const T = W === 4 ? 'vec4<f32>' : 'f32';
  const tileRows = st.rows;
  const units = (tileRows * c.BK) / W; // loads per K-slice for the whole workgroup
  const perThread = Math.ceil(units / threads);
  const guard = units % threads !== 0; // some threads idle on the last unit
  const { array: name, tile: S, rows: R, base, r0 } = src;
  let decl = '', load = '', store = '';
  for (let u = 0; u < perThread; u++) {
    const v = `${src.prefix}${u}`;
    decl += `  var ${v}: ${T};\n`;
    const idx = `(tid + ${u * threads}u)`;
    let body: string, sst: string;
    if (contiguousRows) {
      // Global [K, R]: unit i → k = i / (tileRows/W), row = (i % (tileRows/W))·W.
      const per = tileRows / W;
      const kk = `${idx} / ${per}u`, rr = `(${idx} % ${per}u) * ${W}u`;
      const gidx = `${base} + (k0 + ${kk}) * ${R} + ${r0} + ${rr}`;
      const cond = `k0 + ${kk} < P.K && ${r0} + ${rr} < ${R}`;
      body = loadStmt(c.checked, v, name, T, `(${gidx}) / ${W}u`, cond);
      if (W === 4) sst = `${S}[sbuf][${kk}][${idx} % ${per}u] = ${v};`;
      else sst = `{ let r = ${rr}; ${S}[sbuf][${kk}][r / 4u][r % 4u] = ${v}; }`;
    } else {
      // Global [R, K]: unit i → row = i / (BK/W), k = (i % (BK/W))·W.
      const per = c.BK / W;
      const rr = `${idx} / ${per}u`, kk = `(${idx} % ${per}u) * ${W}u`;
      const gidx = `${base} + (${r0} + ${rr}) * P.ldk + k0 + ${kk}`;
      const cond = `${r0} + ${rr} < ${R} && k0 + ${kk} < P.K`;
      body = loadStmt(c.checked, v, name, T, `(${gidx}) / ${W}u`, cond);
      if (st.rowMajor) {
        sst = `${S}[sbuf][${rr}][${idx} % ${per}u] = ${v};`;
      } else {
        // Transposed into the k-major tile.
        const comps = W === 4 ? ['x', 'y', 'z', 'w'].map((ch, j) => [j, `${v}.${ch}`] as const) : [[0, v] as const];
        sst = `{ let r = ${rr}; let kq = ${kk};` + comps.map(([j, val]) =>
          ` ${S}[sbuf][kq + ${j}u][r / 4u][r % 4u] = ${val};`).join('') + ' }';
      }
    }
    const wrap = (x: string) => guard ? `    if (${idx} < ${units}u) { ${x} }\n` : `    ${x}\n`;
    load += wrap(body);
    store += wrap(sst);
  }
  return { decl, load, store };
}

// Branch-free bounds test: out-of-range units read element 0 and are replaced by zero. (Unrolled
// if/else here made SwiftShader's shader compiler take minutes; GPUs don't mind either way.)
function loadStmt(checked: boolean, v: string, name: string, T: string, index: string, cond: string): string {
  if (!checked) return `${v} = ${name}[${index}];`;
  return `{ let ok = ${cond}; ${v} = select(${T}(), ${name}[select(0u, ${index}, ok)], ok); }`;
}

/**
 * Names and index expressions of the generated kernel, for code a fusion adds to it. Inside main:
 * tx, ty (thread), tid, m0, n0 (tile origin), P (uniform), k0 and sbuf (while a K-slice is staged),
 * acc_{r}_{g} (vec4: row rowOf(r), the 4 columns colOf(g) + 0..3) and, at step k of the inner loop,
 * a{h}_{k} (vec4: rows rowOf(4h) + 0..3 of x at k; only when A is staged k-major).
 */
export interface TileLayout {
  c: MatmulConfig;
  wx: number; // threads along N
  wy: number; // threads along M
  threads: number;
  rm: number; // 4-row sub-blocks per thread (TM / 4)
  rn: number; // 4-column sub-blocks per thread (TN / 4)
  nbuf: number;
  sa: Staging;
  sb: Staging;
  /** Row (within the tile) of a thread's r-th accumulator row, r < TM. */
  rowOf: (r: number) => string;
  /** First of the 4 columns (within the tile) of accumulator group g < rn; B staged k-major only. */
  colOf: (g: number) => string;
  /** Lane of the 4-row vec4 at sub-block h in a k-major [k][m/4] tile (As and tiles shaped like it). */
  laneOf: (h: number) => string;
}

export function tileLayout(c: MatmulConfig, transA: boolean, transB: boolean): TileLayout {
  const wx = c.tileN / c.TN, wy = c.tileM / c.TM, rm = c.TM / 4, rn = c.TN / 4;
  // Thread (tx, ty) owns rows h·(tileM/rm) + ty·4 + i (i < 4) and columns g·(tileN/rn) + tx·4 + j,
  // or tx + wx·(4g + j) when B is row-major. acc_{h·4+i}_{g} holds 4 of those columns of one row.
  return {
    c, wx, wy, threads: wx * wy, rm, rn, nbuf: c.doubleBuffer ? 2 : 1,
    sa: staging(c, 'A', transA, transB), sb: staging(c, 'B', transA, transB),
    rowOf: (r) => `ty * 4u + ${Math.floor(r / 4) * (c.tileM / rm) + (r % 4)}u`,
    colOf: (g) => `${g * (c.tileN / rn)}u + tx * 4u`,
    laneOf: (h) => `ty + ${h * (c.tileM / rm / 4)}u`,
  };
}

/**
 * Code a fused kernel adds to the tiled matmul (see kernels/lora-linear.ts). Everything is spliced
 * in verbatim; the plain matmul passes none and its WGSL is unchanged.
 */
export interface MatmulFusion {
  key: string;
  /** Header comment lines (with the leading //). */
  comment: string;
  /** Extra storage bindings (`var<storage, ...> NAME: TYPE;`), numbered after C; the uniform follows them. */
  bindings: string[];
  /** Module-scope declarations: workgroup arrays, helper functions. */
  module: string;
  /** Per-thread declarations before the K loop. */
  decl: string;
  /** Global → registers and registers → workgroup memory with each K-slice, beside the operands' own copies. */
  load: string;
  store: string;
  /** After a{h}_{k} are read at step k (buffer expression `buf`) of the inner loop. */
  perK: (k: number, buf: string) => string;
  /** After the K loop (uniform control flow, the tiles free), before C is written: may update acc_{r}_{g}. */
  epilogue: string;
  /** Workgroup memory the fusion declares. */
  workgroupBytes: number;
}

function buildWgsl(c: MatmulConfig, transA: boolean, transB: boolean, fusion?: MatmulFusion): string {
  const L = tileLayout(c, transA, transB);
  const { wx, wy, threads, rm, rn, nbuf, sa, sb, rowOf } = L;
  const T = c.vec4 ? 'vec4<f32>' : 'f32';
  // C is written as vec4s of 4 adjacent columns, except when B is staged row-major: then a thread's
  // columns are tx + wx·q (so the row-major B reads hit distinct banks) and C is written by scalars.
  const TC = c.vec4 && !sb.rowMajor ? 'vec4<f32>' : 'f32';
  const cbuf = c.doubleBuffer ? 'buf' : '0';
  const a = operandCopy(c, threads, matmulOperand('A'), transA, sa);
  const b = operandCopy(c, threads, matmulOperand('B'), !transB, sb);
  const f = fusion ?? { comment: '', bindings: [], module: '', decl: '', load: '', store: '', perK: () => '', epilogue: '' };
  if (fusion && sa.rowMajor) throw new Error('matmul fusion: A must be staged k-major (rowStage off)');

  let accDecl = '';
  for (let r = 0; r < c.TM; r++) for (let g = 0; g < rn; g++) accDecl += `  var acc_${r}_${g} = vec4<f32>();\n`;

  // Per k: rm (or TM/4 amortised) + rn vec4 reads from workgroup memory, TM·rn vec4 FMAs; unrolled
  // over BK with constant inner indices, so under Dawn's robustness transform only the loop-invariant
  // lane index is clamped and the compiler folds k into the loads' immediate offsets.
  let inner = '';
  for (let kq = 0; kq < c.BK / 4; kq++) {
    if (sa.rowMajor) for (let r = 0; r < c.TM; r++) inner += `    let ar${r}_${kq} = As[${cbuf}][${rowOf(r)}][${kq}];\n`;
    if (sb.rowMajor) for (let q = 0; q < c.TN; q++) inner += `    let br${q}_${kq} = Bs[${cbuf}][tx + ${q * wx}u][${kq}];\n`;
    for (let kk = 0; kk < 4; kk++) {
      const k = kq * 4 + kk, kc = 'xyzw'[kk];
      if (!sa.rowMajor) for (let h = 0; h < rm; h++) inner += `    let a${h}_${k} = As[${cbuf}][${k}][ty + ${h * (c.tileM / rm / 4)}u];\n`;
      inner += f.perK(k, cbuf);
      for (let g = 0; g < rn; g++) {
        inner += sb.rowMajor
          ? `    let b${g}_${k} = vec4<f32>(${[0, 1, 2, 3].map((j) => `br${4 * g + j}_${kq}.${kc}`).join(', ')});\n`
          : `    let b${g}_${k} = Bs[${cbuf}][${k}][tx + ${g * (c.tileN / rn / 4)}u];\n`;
      }
      for (let r = 0; r < c.TM; r++) {
        const av = sa.rowMajor ? `ar${r}_${kq}.${kc}` : `a${Math.floor(r / 4)}_${k}.${'xyzw'[r % 4]}`;
        for (let g = 0; g < rn; g++) inner += `    acc_${r}_${g} = fma(vec4<f32>(${av}), b${g}_${k}, acc_${r}_${g});\n`;
      }
    }
  }

  // Epilogue.
  let store = '';
  for (let r = 0; r < c.TM; r++) {
    const row = `m0 + ${rowOf(r)}`;
    for (let g = 0; g < rn; g++) {
      const acc = `acc_${r}_${g}`;
      if (sb.rowMajor) {
        for (let j = 0; j < 4; j++) {
          const col = `n0 + tx + ${(4 * g + j) * wx}u`;
          const stc = `C[cBase + (${row}) * P.N + ${col}] = ${acc}.${'xyzw'[j]};`;
          store += c.checked ? `  if (${row} < P.M && ${col} < P.N) { ${stc} }\n` : `  ${stc}\n`;
        }
        continue;
      }
      const col = `n0 + ${L.colOf(g)}`;
      if (c.vec4) {
        const stc = `C[(cBase + (${row}) * P.N + ${col}) / 4u] = ${acc};`;
        store += c.checked ? `  if (${row} < P.M && ${col} < P.N) { ${stc} }\n` : `  ${stc}\n`;
      } else {
        // A loop rather than 4 unrolled branches keeps SwiftShader's compile time down.
        store += `  if (${row} < P.M) { for (var j = 0u; j < 4u; j = j + 1u) { if (${col} + j < P.N) { C[cBase + (${row}) * P.N + ${col} + j] = ${acc}[j]; } } }\n`;
      }
    }
  }

  const mainLoop = c.doubleBuffer ? `
  // Prologue: slice 0 into buffer 0.
  var k0 = 0u;
  { let sbuf = 0u;
${a.load}${b.load}${f.load}${a.store}${b.store}${f.store}  }
  workgroupBarrier();
  var buf = 0u;
  for (var t = 0u; t < numSlices; t = t + 1u) {
    // Fetch slice t+1 into registers while slice t (in buffer buf) is multiplied.
    let hasNext = t + 1u < numSlices;
    k0 = (t + 1u) * ${c.BK}u;
    if (hasNext) {
${a.load}${b.load}${f.load}    }
${inner}
    if (hasNext) {
      let sbuf = 1u - buf;
${a.store}${b.store}${f.store}    }
    // One barrier per slice: buffer 1-buf was last read before the previous barrier.
    workgroupBarrier();
    buf = 1u - buf;
  }` : `
  for (var t = 0u; t < numSlices; t = t + 1u) {
    let k0 = t * ${c.BK}u;
    let sbuf = 0u;
${a.load}${b.load}${f.load}${a.store}${b.store}${f.store}    workgroupBarrier();
${inner}    workgroupBarrier();
  }`;

  const extra = f.bindings.map((d, i) => `@group(0) @binding(${3 + i}) ${d}\n`).join('');
  return /* wgsl */ `${f.comment}// matmul ${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}: tile ${c.tileM}×${c.tileN}, BK ${c.BK}, ${c.TM}×${c.TN} per thread, ${threads} threads,
// ${c.vec4 ? 'vec4' : 'scalar'} global access, ${c.checked ? 'bounds-checked' : 'unchecked (M, N, K multiples of the tile)'}, ${c.doubleBuffer ? 'double' : 'single'}-buffered.
// A ${transA ? '[K, M]' : '[M, K]'}, B ${transB ? '[N, K]' : '[K, N]'}, C [M, N] per batch.
struct MatmulParams { M: u32, N: u32, K: u32, aBatchStride: u32, bBatchStride: u32, batchOffset: u32, p0: u32, p1: u32, ldk: u32, q0: u32, q1: u32, q2: u32 }
@group(0) @binding(0) var<storage, read> A: array<${T}>;
@group(0) @binding(1) var<storage, read> B: array<${T}>;
@group(0) @binding(2) var<storage, read_write> C: array<${TC}>;
${extra}@group(0) @binding(${3 + f.bindings.length}) var<uniform> P: MatmulParams;

// Tiles, ${nbuf} buffer(s): As ${sa.rowMajor ? '[m][k]' : '[k][m]'}, Bs ${sb.rowMajor ? '[n][k]' : '[k][n]'} (innermost as vec4s).
var<workgroup> As: array<array<array<vec4<f32>, ${sa.vecs}>, ${sa.outer}>, ${nbuf}>;
var<workgroup> Bs: array<array<array<vec4<f32>, ${sb.vecs}>, ${sb.outer}>, ${nbuf}>;
${f.module}
@compute @workgroup_size(${wx}, ${wy}, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let batch = wg.z + P.batchOffset;
  let aBase = batch * P.aBatchStride;
  let bBase = batch * P.bBatchStride;
  let cBase = batch * P.M * P.N;
  let m0 = wg.y * ${c.tileM}u;
  let n0 = wg.x * ${c.tileN}u;
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * ${wx}u + tx;
  let numSlices = (P.K + ${c.BK - 1}u) / ${c.BK}u;
${a.decl}${b.decl}${accDecl}${f.decl}${mainLoop}
${f.epilogue}
${store}}
`;
}
