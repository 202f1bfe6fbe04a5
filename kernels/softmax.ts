// Softmax / log-softmax over the last axis: X [rows, cols] → Y [rows, cols], f32.
//   softmax:     y = exp(x - m) / s
//   log-softmax: y = (x - m) - log(s)         with m = max(row), s = Σ exp(x - m)   (rowstats.ts)
// One workgroup per row; two reads of the row (stats, then output).
// Bindings: 0 X (read), 1 Y (read_write), 2 uniform { rows, cols }. Dispatch: rows workgroups, folded.
// vec4 variant (cols % 4 = 0): X and Y as array<vec4<f32>>, cols counts vec4s.
import { rowStatsBody, rowStatsDecls } from './rowstats.ts';
import { LINEAR_WORKGROUP, type Kernel, uniformBlock } from './wgsl.ts';

export function softmaxKernel(log: boolean, wg: number, vec4 = false): Kernel {
  const params = ['rows', 'cols'];
  // exp/log/- work componentwise, so the vec4 output line is the scalar one with a splat of m.
  const mm = vec4 ? 'vec4<f32>(m)' : 'm';
  const out = log ? `Y[base + c] = (X[base + c] - ${mm}) - ls;` : `Y[base + c] = exp(X[base + c] - ${mm}) * inv;`;
  const t = vec4 ? 'vec4<f32>' : 'f32';
  const code = `
@group(0) @binding(0) var<storage, read> X: array<${t}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${t}>;
${uniformBlock(params, 2)}
${rowStatsDecls(wg)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.rows) { return; }
  let base = w * P.cols;
${rowStatsBody(wg, vec4)}
  ${log ? 'let ls = log(s);' : 'let inv = 1.0 / s;'}
  for (var c = lid; c < P.cols; c = c + ${wg}u) { ${out} }
}`;
  return { key: `softmax:${log ? 'log' : 'exp'}:wg${wg}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: wg };
}
