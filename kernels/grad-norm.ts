// Global gradient norm and clip scale (torch.nn.utils.clip_grad_norm_) without a host readback,
// in two kernels:
//   sumSquaresKernel(K): partial sums of squares of K gradients in one dispatch. Bindings 0..K-1
//     G{j} (read, f32 [len_j]), K Partial (read_write, f32 [≥ base + workgroups]), K+1 uniform
//     { base, len0..len{K-1} }. Workgroup w writes Partial[base + w] = Σ_j Σ_{k ≡ its threads} G_j[k]²
//     (thread t walks t, t + stride, ...; a tree reduction over the workgroup's 256 threads).
//   normScaleKernel: one workgroup of 256 threads sums Partial[0..count) in a fixed order and
//     writes N[0] = √Σ and S[0] = min(maxNorm / (N[0] + 1e-6), 1) (S[0] = 1 when `unclipped`: the
//     caller passed maxNorm = ∞). Bindings 0 Partial (read), 1 N (read_write, [1]), 2 S
//     (read_write, [1]), 3 uniform { count, maxNorm (f32 bits), unclipped }.
// The optimizer's multi-tensor step (kernels/adamw.ts) reads S, so the scale never leaves the GPU.
import { type Kernel, uniformBlock, WG_1D } from './wgsl.ts';

const TREE = `  red[lid] = acc;
  workgroupBarrier();
  for (var h = ${WG_1D / 2}u; h > 0u; h = h / 2u) {
    if (lid < h) { red[lid] = red[lid] + red[lid + h]; }
    workgroupBarrier();
  }`;

export function sumSquaresKernel(K: number): Kernel {
  const lens = Array.from({ length: K }, (_, j) => `len${j}`);
  const params = ['base', ...lens];
  const decls = lens.map((_, j) => `@group(0) @binding(${j}) var<storage, read> G${j}: array<f32>;`);
  const loops = lens.map((_, j) => `  for (var k = t; k < P.len${j}; k += stride) { let g = G${j}[k]; acc = acc + g * g; }`);
  const code = `
${decls.join('\n')}
@group(0) @binding(${K}) var<storage, read_write> Partial: array<f32>;
${uniformBlock(params, K + 1)}
var<workgroup> red: array<f32, ${WG_1D}>;
@compute @workgroup_size(${WG_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let stride = nwg.x * ${WG_1D}u;
  let t = gid.x;
  var acc = 0.0;
${loops.join('\n')}
${TREE}
  if (lid == 0u) { Partial[P.base + wid.x] = red[0]; }
}`;
  return { key: `grad-sumsq:${K}`, code, params, workgroupSize: WG_1D };
}

export function normScaleKernel(): Kernel {
  const params = ['count', 'maxNorm', 'unclipped'];
  const code = `
@group(0) @binding(0) var<storage, read> Partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> N: array<f32>;
@group(0) @binding(2) var<storage, read_write> S: array<f32>;
${uniformBlock(params, 3)}
var<workgroup> red: array<f32, ${WG_1D}>;
@compute @workgroup_size(${WG_1D})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var k = lid; k < P.count; k += ${WG_1D}u) { acc = acc + Partial[k]; }
${TREE}
  if (lid == 0u) {
    let norm = sqrt(red[0]);
    N[0] = norm;
    S[0] = select(min(bitcast<f32>(P.maxNorm) / (norm + 1e-6), 1.0), 1.0, P.unclipped != 0u);
  }
}`;
  return { key: 'grad-norm-scale', code, params, workgroupSize: WG_1D };
}
