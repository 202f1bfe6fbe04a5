// Tiny WGSL builders shared by the kernel families. A kernel is WGSL text plus the names of the
// u32 words of its uniform block; the backend packs those words by name, so the layout lives in
// exactly one place (the builder that wrote the struct).
//
// Conventions for every kernel in this folder:
//   - storage bindings come first (0, 1, ...), the uniform block `P` is the last binding;
//   - the entry point is `main`;
//   - 1-D work is folded into a 2-D grid (x ≤ 65535 workgroups) and re-linearised in the kernel
//     with num_workgroups, so one dispatch covers up to 65535² workgroups.

export type ScalarType = 'f32' | 'i32' | 'u32';

export interface Kernel {
  /** Pipeline cache key: equal keys mean equal code. */
  key: string;
  code: string;
  /** Uniform words in order (each a u32; i32/f32 values are stored as their bit pattern). */
  params: string[];
  /** Threads per workgroup, for the dispatcher's grid arithmetic. */
  workgroupSize: number;
}

/** Threads per workgroup for 1-D kernels: the WebGPU default limit for maxComputeInvocationsPerWorkgroup. */
export const WG_1D = 256;

export function uniformBlock(params: string[], binding: number): string {
  return `struct Params { ${params.map((p) => `${p}: u32`).join(', ')} }
@group(0) @binding(${binding}) var<uniform> P: Params;`;
}

/** Entry point for a 1-D kernel; the body sees `i` (global element index) and must guard `i < n` itself. */
export function entry1d(body: string, wg = WG_1D): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${wg}u + lid;
${body}
}`;
}

/** Linear workgroup index of a folded 2-D grid (row kernels: one workgroup per row or tile). */
export const LINEAR_WORKGROUP = 'let w = wid.y * nwg.x + wid.x;';

/**
 * Non-finite f32 constants and a NaN test. WGSL rejects inf/NaN in constant expressions, so they
 * are read from private variables, which are runtime values. WGSL also lets compilers assume
 * there are no NaNs (SwiftShader folds 'x != x' to false), so NaN is tested on the bit pattern.
 */
export const NONFINITE = `var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NEG_INF_BITS: u32 = 0xff800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn f32_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn f32_neg_inf() -> f32 { return bitcast<f32>(NEG_INF_BITS); }
fn f32_nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn is_nan_(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }`;

/**
 * Offsets of several strided views of one output index space of `rank` dims.
 * Uniform words: n, d0..d{rank-1} (output shape), then per view v: v_o (offset), v_s0.. (strides).
 * Strides are stored as u32 bit patterns, so negative strides work by wrap-around arithmetic.
 * The generated code reads `i` and declares `off_<v>` for every view.
 */
export function stridedOffsets(rank: number, views: string[]): { params: string[]; code: string } {
  const params = ['n'];
  for (let d = 0; d < rank; d++) params.push(`d${d}`);
  for (const v of views) {
    params.push(`${v}_o`);
    for (let d = 0; d < rank; d++) params.push(`${v}_s${d}`);
  }
  const lines = views.map((v) => `  var off_${v}: u32 = P.${v}_o;`);
  if (rank > 0) lines.push('  var rem = i;');
  // Innermost dim first; the outermost coordinate is whatever is left.
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(d > 0 ? `  { let c = rem % P.d${d}; rem = rem / P.d${d};` : '  { let c = rem;');
    for (const v of views) lines.push(`    off_${v} = off_${v} + c * P.${v}_s${d};`);
    lines.push('  }');
  }
  return { params, code: lines.join('\n') };
}

/** Uniform values for stridedOffsets: views in the same order as the kernel's view names. */
export function stridedValues(
  shape: number[], views: { name: string; offset: number; strides: number[] }[],
): Record<string, number> {
  const out: Record<string, number> = { n: shape.reduce((a, b) => a * b, 1) };
  shape.forEach((s, d) => (out[`d${d}`] = s));
  for (const v of views) {
    out[`${v.name}_o`] = v.offset;
    v.strides.forEach((s, d) => (out[`${v.name}_s${d}`] = s >>> 0));
  }
  return out;
}
