// RMSNorm over the last axis: X [rows, cols] (, W [cols]) → Y [rows, cols], f32.
//   y[r, c] = x[r, c] · inv · w[c],   inv = 1 / sqrt(Σ_c x[r, c]² / cols + eps)
// One workgroup per row: each thread sums the squares of a strided slice, a workgroup-memory tree
// adds the partial sums, then the same threads write the row. Without W the weight is 1 (a separate
// kernel, so there is no dummy binding).
// Bindings: 0 X (read), [1 W (read)], then Y (read_write), then uniform { rows, cols, n, eps }:
// cols counts X's units (vec4s in the vec4 variant), n is the true column count (the mean's
// divisor), eps is an f32 bit pattern. Dispatch: rows workgroups, folded.
// vec4 variant (cols % 4 = 0): X, W and Y as array<vec4<f32>>.
import { LINEAR_WORKGROUP, type Kernel, uniformBlock } from './wgsl.ts';

export function rmsNormKernel(wg: number, weighted: boolean, vec4 = false): Kernel {
  const params = ['rows', 'cols', 'n', 'eps'];
  const t = vec4 ? 'vec4<f32>' : 'f32';
  const yBinding = weighted ? 2 : 1;
  const code = `
@group(0) @binding(0) var<storage, read> X: array<${t}>;
${weighted ? `@group(0) @binding(1) var<storage, read> W: array<${t}>;` : ''}
@group(0) @binding(${yBinding}) var<storage, read_write> Y: array<${t}>;
${uniformBlock(params, yBinding + 1)}
var<workgroup> sh: array<f32, ${wg}>;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.rows) { return; } // uniform per workgroup, so the barriers below stay uniform
  let base = w * P.cols;
  var ss = 0.0;
  for (var c = lid; c < P.cols; c = c + ${wg}u) {
    let v = X[base + c];
    ss = ss + ${vec4 ? 'dot(v, v)' : 'v * v'};
  }
  sh[lid] = ss;
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (lid < k) { sh[lid] = sh[lid] + sh[lid + k]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(sh[0] / f32(P.n) + bitcast<f32>(P.eps));
  for (var c = lid; c < P.cols; c = c + ${wg}u) {
    Y[base + c] = X[base + c] * inv${weighted ? ' * W[c]' : ''};
  }
}`;
  return { key: `rmsnorm:wg${wg}${weighted ? ':w' : ''}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: wg };
}
