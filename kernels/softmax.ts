// Softmax / log-softmax over the last axis: X [rows, cols] → Y [rows, cols], f32.
//   softmax:     y = exp(x - m) / s
//   log-softmax: y = (x - m) - log(s)         with m = max(row), s = Σ exp(x - m)   (rowstats.ts)
// One workgroup per row; two reads of the row (stats, then output).
// Bindings: 0 X (read), 1 Y (read_write), 2 uniform { rows, cols }. Dispatch: rows workgroups, folded.
import { rowStatsBody, rowStatsDecls } from './rowstats.ts';
import { LINEAR_WORKGROUP, type Kernel, uniformBlock } from './wgsl.ts';

export function softmaxKernel(log: boolean, wg: number): Kernel {
  const params = ['rows', 'cols'];
  const out = log ? 'Y[base + c] = (X[base + c] - m) - ls;' : 'Y[base + c] = exp(X[base + c] - m) * inv;';
  const code = `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
${uniformBlock(params, 2)}
${rowStatsDecls(wg)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.rows) { return; }
  let base = w * P.cols;
${rowStatsBody(wg)}
  ${log ? 'let ls = log(s);' : 'let inv = 1.0 / s;'}
  for (var c = lid; c < P.cols; c = c + ${wg}u) { ${out} }
}`;
  return { key: `softmax:${log ? 'log' : 'exp'}:wg${wg}`, code, params, workgroupSize: wg };
}
