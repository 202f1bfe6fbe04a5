// Fused LoRA linear: the base product and the low-rank update in one pass over x.
//   x [M, K], W [N, K] (nn.Linear's weight), bias [N] or none, A [R, K] (lora_A), B [N, R] (lora_B), s →
//     y  [M, N] = x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ
//     xa [M, R] = x·Aᵀ          (kept for the backward: dB = s·dyᵀ·xa)
//
// This is kernels/matmul.ts's tiled x·Wᵀ (transB) with a MatmulFusion woven in; nothing of the
// matmul is copied. Per workgroup (tile tileM × tileN of y, wx × wy threads):
//   K loop: with each K-slice of x (As [BK][tileM/4], vec4 over 4 rows) the workgroup stages the
//     same K-slice of A (Ls [BK][Rp/4], zero beyond R; A is tiny). At step k a thread already holds
//     its x rows a{h}_{k} (vec4 over 4 rows) for the base product; it also multiplies them by
//     Ls[k][j] for its LoRA columns j = tx + wx·c (c < Rp/wx) into xa_{h}_{c} (vec4 over the same
//     4 rows). So x is read once from global memory and once from workgroup memory for both products.
//   epilogue: s·xa [tileM, Rp] goes to workgroup memory (XAs [Rp][tileM/4], laid out like As), the
//     workgroups of N-tile 0 write xa [M, R], then each thread adds Σ_j s·xa[row, j]·B[col, j]
//     (B read from global: N·R floats, cache-resident) and bias[col] to its accumulators before the
//     single write of y.
// Cost over the base product: each of the ceil(N / tileN) N-tiles recomputes xa for its rows, so
// Rp/tileN more FMAs (r = 16 on the 64×64 tile: +25 %), plus R/K in the epilogue. Rp = R rounded up
// to a multiple of wx. Where that outweighs the dispatches fusion saves, loraLinearKernel() returns
// null and the backend runs the three products unfused (bench/NOTES.md, "Fused LoRA linear").
//
// Bindings: 0 X, 1 W, 2 Y (read_write), 3 LA, 4 LB, 5 XA (read_write), [6 BIAS], then the uniform.
// Uniform: the matmul's 8 words (matmulUniform) with p0 = R and p1 = the f32 bits of s.
// Dispatch: matmulDispatch(kernel, M, N, 1).
import {
  chooseMatmulConfig, type MatmulConfig, type MatmulPresetName, type MatmulFusion, type MatmulKernel, matmulKernelFromConfig, operandCopy,
  type Staging, type TileLayout, tileLayout, validateMatmulConfig, workgroupStorageBytes,
} from './matmul.ts';

export interface LoraLinearKernelOptions {
  m: number;
  n: number;
  k: number;
  r: number;
  bias: boolean;
  /** device.limits.maxComputeWorkgroupStorageSize (default: the WebGPU default, 16384). */
  maxWorkgroupStorage?: number;
  /** Force parts of the matmul configuration (tests); rowStage must stay off. */
  config?: Partial<MatmulConfig>;
  /** The device profile's matmul presets in order of preference (kernels/matmul.ts choosePreset). */
  tiles?: readonly MatmulPresetName[];
}

export interface LoraLinearKernel extends MatmulKernel {
  /** LoRA columns per thread (Rp / wx). */
  columnsPerThread: number;
}

/** Registers: at most this many LoRA columns per thread (xa_{h}_{c} is rm·c vec4s). */
const MAX_COLUMNS_PER_THREAD = 8;
/** Below this M·N·K a problem is bound by per-dispatch host cost (~10 µs), so fusing always pays. */
const LAUNCH_BOUND_MNK = 2 ** 26;

/** LoRA columns per thread and R padded to whole threads (and to vec4s for the Ls tile). */
function loraPadding(c: MatmulConfig, r: number) {
  const wx = c.tileN / c.TN;
  const cpt = Math.ceil(r / wx);
  const rp = cpt * wx;
  return { cpt, rp, rv: Math.ceil(rp / 4) * 4 };
}

function loraBytes(c: MatmulConfig, r: number): number {
  const { rp, rv } = loraPadding(c, r);
  return 4 * ((c.doubleBuffer ? 2 : 1) * c.BK * rv + rp * c.tileM);
}

/**
 * The fused kernel for a shape, or null where fusing does not pay or fit: more than
 * MAX_COLUMNS_PER_THREAD LoRA columns per thread, Rp > tileN/2 on a problem that is not
 * launch-bound, or tiles plus the LoRA staging over the workgroup memory limit.
 */
export function loraLinearKernel(o: LoraLinearKernelOptions): LoraLinearKernel | null {
  const { m, n, k, r } = o;
  if (![m, n, k].every((v) => Number.isInteger(v) && v >= 0) || !Number.isInteger(r) || r < 1) {
    throw new Error(`loraLinearKernel: m, n, k must be non-negative integers and r ≥ 1, got m=${m} n=${n} k=${k} r=${r}`);
  }
  if (o.config?.rowStage) throw new Error('loraLinearKernel: rowStage must be off (the LoRA product reads x from the k-major tile)');
  const limit = o.maxWorkgroupStorage ?? 16384;
  const shape = { transA: false, transB: true, m, n, k };
  // The matmul chooser shrinks its tiles to a budget; give it what the LoRA staging leaves over.
  let room = limit;
  let c: MatmulConfig | null = null;
  for (let i = 0; i < 8 && room > 0; i++) {
    const t = chooseMatmulConfig({ ...shape, maxWorkgroupStorage: room, tiles: o.tiles, config: { rowStage: false, ...o.config } });
    const total = workgroupStorageBytes(t, false, true) + loraBytes(t, r);
    if (total <= limit) { c = t; break; }
    room -= total - limit;
  }
  if (!c) return null;
  const { cpt, rp } = loraPadding(c, r);
  if (cpt > MAX_COLUMNS_PER_THREAD) return null;
  if (2 * rp > c.tileN && m * n * k > LAUNCH_BOUND_MNK) return null;
  validateMatmulConfig(c, { ...shape, maxWorkgroupStorage: limit - loraBytes(c, r) });
  const kernel = matmulKernelFromConfig(c, false, true, loraFusion(tileLayout(c, false, true), r, o.bias));
  return { ...kernel, columnsPerThread: cpt };
}

function loraFusion(L: TileLayout, r: number, bias: boolean): MatmulFusion {
  const { c, wx, rm, rn, nbuf } = L;
  const { cpt, rp, rv } = loraPadding(c, r);
  const T = c.vec4 ? 'vec4<f32>' : 'f32';
  const H = [...Array(rm).keys()], C = [...Array(cpt).keys()], G = [...Array(rn).keys()];
  // A's K-slice, k-major like As. Always bounds-checked: rows R..rv are padding (zeros).
  const st: Staging = { rowMajor: false, rows: rv, vecs: rv / 4, outer: c.BK };
  const la = operandCopy({ ...c, checked: true }, L.threads,
    { array: 'LA', tile: 'Ls', rows: 'P.p0', base: '0u', r0: '0u', prefix: 'pL' }, false, st);
  const col = (c_: number) => `tx + ${c_ * wx}u`; // LoRA column of a thread's c-th xa accumulator

  let decl = la.decl;
  for (const c_ of C) decl += `  let lq${c_} = (${col(c_)}) / 4u;\n  let lw${c_} = (${col(c_)}) % 4u;\n`;
  for (const h of H) for (const c_ of C) decl += `  var xa_${h}_${c_} = vec4<f32>();\n`;

  const perK = (k: number, buf: string) => {
    let s = '';
    for (const c_ of C) s += `    let l${c_}_${k} = Ls[${buf}][${k}][lq${c_}][lw${c_}];\n`;
    for (const h of H) for (const c_ of C) s += `    xa_${h}_${c_} = fma(a${h}_${k}, vec4<f32>(l${c_}_${k}), xa_${h}_${c_});\n`;
    return s;
  };

  let epi = `  // LoRA epilogue: s·xa → XAs; N-tile 0 writes xa [M, R]; acc += s·xa·Bᵀ${bias ? ' + bias' : ''}.
  let loraScale = bitcast<f32>(P.p1);
`;
  for (const h of H) for (const c_ of C) epi += `  XAs[${col(c_)}][${L.laneOf(h)}] = loraScale * xa_${h}_${c_};\n`;
  epi += '  if (wg.x == 0u) {\n';
  for (const h of H) {
    for (const c_ of C) {
      epi += `    { let j = ${col(c_)}; if (j < P.p0) { for (var i = 0u; i < 4u; i = i + 1u) {` +
        ` let row = m0 + ${L.rowOf(4 * h)} + i; if (row < P.M) { XA[row * P.p0 + j] = xa_${h}_${c_}[i]; } } } }\n`;
    }
  }
  epi += '  }\n  workgroupBarrier();\n  for (var j = 0u; j < P.p0; j = j + 1u) {\n';
  for (const h of H) epi += `    let xv${h} = XAs[j][${L.laneOf(h)}];\n`;
  for (const g of G) {
    const n0 = `n0 + ${L.colOf(g)}`;
    epi += `    let bv${g} = vec4<f32>(${[0, 1, 2, 3].map((q) => `loraB(${n0} + ${q}u, j)`).join(', ')});\n`;
  }
  for (let rr = 0; rr < c.TM; rr++) {
    for (const g of G) epi += `    acc_${rr}_${g} = fma(vec4<f32>(xv${Math.floor(rr / 4)}.${'xyzw'[rr % 4]}), bv${g}, acc_${rr}_${g});\n`;
  }
  epi += '  }\n';
  if (bias) {
    for (const g of G) {
      const n0 = `n0 + ${L.colOf(g)}`;
      epi += `  { let bb = vec4<f32>(${[0, 1, 2, 3].map((q) => `biasAt(${n0} + ${q}u)`).join(', ')});` +
        [...Array(c.TM).keys()].map((rr) => ` acc_${rr}_${g} = acc_${rr}_${g} + bb;`).join('') + ' }\n';
    }
  }

  const bindings = [
    `var<storage, read> LA: array<${T}>;`, 'var<storage, read> LB: array<f32>;', 'var<storage, read_write> XA: array<f32>;',
  ];
  if (bias) bindings.push('var<storage, read> BIAS: array<f32>;');
  let module = `// LoRA tiles: A's K-slice [k][Rp/4] (vec4 over 4 LoRA columns), s·xa [Rp][tileM/4] (vec4 over 4 rows).
var<workgroup> Ls: array<array<array<vec4<f32>, ${rv / 4}>, ${c.BK}>, ${nbuf}>;
var<workgroup> XAs: array<array<vec4<f32>, ${c.tileM / 4}>, ${rp}>;
// B [N, R] at (col, j); 0 past N (branch-free, as the operand loads).
fn loraB(col: u32, j: u32) -> f32 { let ok = col < P.N; return select(0.0, LB[select(0u, col * P.p0 + j, ok)], ok); }
`;
  if (bias) module += 'fn biasAt(col: u32) -> f32 { let ok = col < P.N; return select(0.0, BIAS[select(0u, col, ok)], ok); }\n';

  return {
    key: `lora${cpt}x${wx}${bias ? 'b' : ''}`,
    comment: `// LoRA linear: y = x·Wᵀ${bias ? ' + bias' : ''} + s·(x·Aᵀ)·Bᵀ, xa = x·Aᵀ [M, R]; ${cpt} LoRA column(s) per thread (R ≤ ${rp}).\n` +
      '// Below A = x [M, K], B = W [N, K], C = y [M, N]; LA = lora_A [R, K], LB = lora_B [N, R]; P.p0 = R, P.p1 = bits of s.\n',
    bindings, module, decl, load: la.load, store: la.store, perK, epilogue: epi,
    workgroupBytes: loraBytes(c, r),
  };
}
