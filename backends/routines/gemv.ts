// Few-row projections of a decoder block in one dispatch (kernels/gemv.ts): x [M, K] against one to
// three weights [Ni, K], optionally RMS-normalised on the way in and with a residual added on the
// way out, or the gate/up pair of a SwiGLU MLP. The cpu implementation is the same definition in
// float64.
import { GEMV_MAX_ROWS, gemvColumns, gemvKernel, gemvRowBlocks } from '../../kernels/gemv.ts';
import type { Storage } from '../backend.ts';
export { GEMV_MAX_ROWS };

/**
 * Rows a fusedProjection takes at most: up to 4 blocks of GEMV_MAX_ROWS (a GRPO batch of 64
 * sequences decodes in one dispatch per projection). Past that the weights would be re-read once per
 * block of 16 rows, and a tiled matmul (the unfused block) reads them once per 64-row tile.
 */
export const PROJECTION_MAX_ROWS = 4 * GEMV_MAX_ROWS;
import { sigmoid } from '../cpu/math.ts';
import { assertSizes, assertStorages, f32Bits, type Routine } from '../routine.ts';

export interface ProjectionParams {
  /** Rows of x (1..PROJECTION_MAX_ROWS). */
  M: number;
  K: number;
  /** Rows of each weight [Ni, K]. */
  N: number[];
  /** concat: y = x·[W0; W1; ...]ᵀ [M, ΣNi]; swiglu: y = silu(x·W0ᵀ) ⊙ (x·W1ᵀ) [M, N0]. */
  mode: 'concat' | 'swiglu';
  /** RMSNorm epsilon, used with a norm weight. */
  eps: number;
}

/** Output columns of a projection. */
export function projectionWidth(p: ProjectionParams): number {
  return p.mode === 'swiglu' ? p.N[0] : p.N.reduce((a, b) => a + b, 0);
}

/**
 * y [M, NT] from x [M, K] and weights Wi [Ni, K]:
 *   x̂ = norm ? rmsNorm(x) · norm : x   (rmsNorm over K with p.eps, as routines/rmsnorm.ts)
 *   concat: y[m, c] = x̂[m] · (row c of [W0; W1; W2])      swiglu: y[m, n] = silu(x̂[m]·W0[n]) · (x̂[m]·W1[n])
 *   y += residual [M, NT] when given.
 */
export const fusedProjection: Routine<[x: Storage, weights: Storage[], norm: Storage | null, residual: Storage | null,
  p: ProjectionParams], Storage> = {
  name: 'fusedProjection',
  assert(x, weights, norm, residual, p) {
    const op = 'fusedProjection';
    assertSizes(op, { M: p.M, K: p.K, ...Object.fromEntries(p.N.map((n, i) => [`N${i}`, n])) });
    if (p.M < 1 || p.M > PROJECTION_MAX_ROWS) throw new Error(`${op}: M = ${p.M} rows, the kernel takes 1..${PROJECTION_MAX_ROWS}`);
    if (weights.length !== p.N.length) throw new Error(`${op}: ${weights.length} weights for ${p.N.length} sizes`);
    if (p.mode === 'swiglu' ? p.N.length !== 2 || p.N[0] !== p.N[1] : p.N.length < 1 || p.N.length > 3) {
      throw new Error(`${op}: ${p.mode} takes ${p.mode === 'swiglu' ? 'gate and up weights of one shape' : '1 to 3 weights'}, got N = [${p.N.join(', ')}]`);
    }
    const NT = projectionWidth(p);
    assertStorages(op, {
      x: [x, 'f32', [p.M, p.K]], norm: [norm, 'f32', [p.K]], residual: [residual, 'f32', [p.M, NT]],
      ...Object.fromEntries(weights.map((w, i) => [`weight ${i}`, [w, 'f32', [p.N[i], p.K]]])),
    });
  },
  cpu(c, x, weights, norm, residual, p) {
    const { M, K } = p;
    const NT = projectionWidth(p);
    const xd = c.data(x), gd = norm ? c.data(norm) : null, rd = residual ? c.data(residual) : null;
    const wd = weights.map((w) => c.data(w));
    const out = c.alloc(M * NT, 'f32');
    const o = c.data(out);
    const xh = new Float64Array(K);
    // Rows of the concatenated weight: [which weight, row within it].
    const rows: [number, number][] = p.mode === 'swiglu' ? [] : p.N.flatMap((n, i) => Array.from({ length: n }, (_, r): [number, number] => [i, r]));
    const dotRow = (w: number, r: number) => {
      let s = 0;
      for (let k = 0; k < K; k++) s += xh[k] * wd[w][r * K + k];
      return s;
    };
    for (let m = 0; m < M; m++) {
      let inv = 1;
      if (gd) {
        let ss = 0;
        for (let k = 0; k < K; k++) ss += xd[m * K + k] * xd[m * K + k];
        inv = 1 / Math.sqrt(ss / K + p.eps);
      }
      for (let k = 0; k < K; k++) xh[k] = xd[m * K + k] * inv * (gd ? gd[k] : 1);
      for (let n = 0; n < NT; n++) {
        let y: number;
        if (p.mode === 'swiglu') {
          const g = dotRow(0, n);
          y = g * sigmoid(g) * dotRow(1, n);
        } else {
          y = dotRow(rows[n][0], rows[n][1]);
        }
        o[m * NT + n] = y + (rd ? rd[m * NT + n] : 0);
      }
    }
    return out;
  },
  webgpu(g, x, weights, norm, residual, p) {
    const op = 'fusedProjection';
    const NT = projectionWidth(p);
    const bindings = [g.bind(op, 'x', x), ...weights.map((w, i) => g.bind(op, `weight ${i}`, w))];
    if (norm) bindings.push(g.bind(op, 'norm', norm));
    if (residual) bindings.push(g.bind(op, 'residual', residual));
    const out = g.alloc(p.M * NT, 'f32', op);
    if (out.size === 0) return out;
    bindings.push(g.bind(op, 'out', out));
    runGemv(g, op, { M: p.M, weights: weights.length, mode: p.mode, norm: norm !== null, residual: residual !== null }, bindings,
      p.K, p.N, NT, p.eps);
    return out;
  },
};

/** Record one gemv dispatch of spec.M rows, in row blocks (also the few-row path of the plain WebGPU matmul). */
export function runGemv(g: Parameters<typeof fusedProjection.webgpu>[0], op: string,
  spec: { M: number; weights: number; mode: 'concat' | 'swiglu'; norm: boolean; residual: boolean },
  bindings: ReturnType<typeof g.bind>[], K: number, N: number[], NT: number, eps: number): void {
  const vec4 = K % 4 === 0;
  const { blocks, rows } = gemvRowBlocks(spec.M);
  const kernel = gemvKernel({ ...spec, M: rows, vec4 });
  const colGroups = Math.ceil(NT / gemvColumns(spec));
  const groups = colGroups * blocks;
  g.runGrid(op, kernel, bindings, {
    KU: vec4 ? K / 4 : K, K, N0: N[0] ?? 0, N1: N[1] ?? 0, N2: N[2] ?? 0, NT, groups, eps: f32Bits(eps), M: spec.M, colGroups,
  }, groups);
}
