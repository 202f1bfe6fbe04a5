// Fused AdamW step, in place over contiguous f32 P, G, M, V [n] (PyTorch's AdamW):
//   p ← p·decay;  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  p ← p − stepSize·m / (√v / √c2 + eps)
// with decay = 1 − lr·wd, stepSize = lr / (1 − β1^t), √c2 = √(1 − β2^t) computed on the host.
// Bindings: 0 P (read_write), 1 G (read), 2 M (read_write), 3 V (read_write), 4 uniform
// { n, decay, stepSize, b1, omb1, b2, omb2, eps, sqrtC2 } (all but n are f32 bit patterns).
// Dispatch: ceil(n / 256) workgroups, folded. vec4 variant (size % 4 = 0): n counts vec4s.
import { entry1d, type Kernel, uniformBlock, WG_1D } from './wgsl.ts';

export const ADAMW_PARAMS = ['n', 'decay', 'stepSize', 'b1', 'omb1', 'b2', 'omb2', 'eps', 'sqrtC2'];

export function adamwKernel(vec4: boolean): Kernel {
  const params = ADAMW_PARAMS;
  const t = vec4 ? 'vec4<f32>' : 'f32';
  const f = (name: string) => `bitcast<f32>(P.${name})`;
  const code = `
@group(0) @binding(0) var<storage, read_write> Pw: array<${t}>;
@group(0) @binding(1) var<storage, read> G: array<${t}>;
@group(0) @binding(2) var<storage, read_write> M: array<${t}>;
@group(0) @binding(3) var<storage, read_write> V: array<${t}>;
${uniformBlock(params, 4)}
${entry1d(`  if (i >= P.n) { return; }
  let g = G[i];
  let m = ${f('b1')} * M[i] + ${f('omb1')} * g;
  let v = ${f('b2')} * V[i] + ${f('omb2')} * (g * g);
  M[i] = m;
  V[i] = v;
  Pw[i] = Pw[i] * ${f('decay')} - ${f('stepSize')} * m / (sqrt(v) / ${f('sqrtC2')} + ${f('eps')});`)}`;
  return { key: `adamw${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}

/**
 * Multi-tensor AdamW: the same update over K tensors in one dispatch. WebGPU cannot index
 * bindings at run time, so tensor j has its own bindings P{j} G{j} M{j} V{j} (4j .. 4j+3) and its own
 * loop; with `scaled`, binding 4K is S [1] (the clip scale, kernels/grad-norm.ts) and every
 * gradient is read as G·S[0] (the same f32 product the separate clip multiply made).
 * Uniform { len0..len{K-1}, decay, ... as above }. Grid: any number of workgroups; thread t
 * walks t, t + stride, ... of every tensor (stride = threads in the grid).
 * Scalar f32 (not vec4): a segment's length need not be a multiple of 4, and the update is
 * elementwise, so the results are bitwise those of adamwKernel.
 */
export function adamwMultiKernel(K: number, scaled: boolean): Kernel {
  const lens = Array.from({ length: K }, (_, j) => `len${j}`);
  const params = [...lens, ...ADAMW_PARAMS.slice(1)];
  const f = (name: string) => `bitcast<f32>(P.${name})`;
  const decls: string[] = [];
  const loops: string[] = [];
  for (let j = 0; j < K; j++) {
    decls.push(`@group(0) @binding(${4 * j}) var<storage, read_write> P${j}: array<f32>;
@group(0) @binding(${4 * j + 1}) var<storage, read> G${j}: array<f32>;
@group(0) @binding(${4 * j + 2}) var<storage, read_write> M${j}: array<f32>;
@group(0) @binding(${4 * j + 3}) var<storage, read_write> V${j}: array<f32>;`);
    loops.push(`  for (var k = t; k < P.len${j}; k += stride) {
    let g = G${j}[k]${scaled ? ' * s' : ''};
    let m = b1 * M${j}[k] + omb1 * g;
    let v = b2 * V${j}[k] + omb2 * (g * g);
    M${j}[k] = m;
    V${j}[k] = v;
    P${j}[k] = P${j}[k] * decay - stepSize * m / (sqrt(v) / sqrtC2 + eps);
  }`);
  }
  if (scaled) decls.push(`@group(0) @binding(${4 * K}) var<storage, read> S: array<f32>;`);
  const code = `
${decls.join('\n')}
${uniformBlock(params, 4 * K + (scaled ? 1 : 0))}
@compute @workgroup_size(${WG_1D})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WG_1D}u;
  let t = gid.x;
  let decay = ${f('decay')}; let stepSize = ${f('stepSize')}; let b1 = ${f('b1')}; let omb1 = ${f('omb1')};
  let b2 = ${f('b2')}; let omb2 = ${f('omb2')}; let eps = ${f('eps')}; let sqrtC2 = ${f('sqrtC2')};
${scaled ? '  let s = S[0];\n' : ''}${loops.join('\n')}
}`;
  return { key: `adamw-multi:${K}:${scaled ? 's' : ''}`, code, params, workgroupSize: WG_1D };
}
