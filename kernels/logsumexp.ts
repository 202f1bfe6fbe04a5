// logsumexp over the last axis: X [rows, cols] → Y [rows], f32: m + log(Σ exp(x - m)), m = max(row).
// A row of all -inf gives -inf (s = 0). One workgroup per row, one read of the row (rowstats.ts).
// Bindings: 0 X (read), 1 Y (read_write), 2 uniform { rows, cols }. Dispatch: rows workgroups, folded.
// vec4 variant (cols % 4 = 0): X read as array<vec4<f32>>, cols counts vec4s.
import { rowStatsBody, rowStatsDecls } from './rowstats.ts';
import { LINEAR_WORKGROUP, type Kernel, uniformBlock } from './wgsl.ts';

export function logsumexpKernel(wg: number, vec4 = false): Kernel {
  const params = ['rows', 'cols'];
  const code = `
@group(0) @binding(0) var<storage, read> X: array<${vec4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
${uniformBlock(params, 2)}
${rowStatsDecls(wg)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.rows) { return; }
  let base = w * P.cols;
${rowStatsBody(wg, vec4)}
  if (lid == 0u) { Y[w] = select(m + log(s), m, m == f32_neg_inf() || m == f32_inf()); }
}`;
  return { key: `logsumexp:wg${wg}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: wg };
}
