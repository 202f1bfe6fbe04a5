// Fused AdamW step, in place over contiguous f32 P, G, M, V [n] (PyTorch's AdamW):
//   p ← p·decay;  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  p ← p − stepSize·m / (√v / √c2 + eps)
// with decay = 1 − lr·wd, stepSize = lr / (1 − β1^t), √c2 = √(1 − β2^t) computed on the host.
// Bindings: 0 P (read_write), 1 G (read), 2 M (read_write), 3 V (read_write), 4 uniform
// { n, decay, stepSize, b1, omb1, b2, omb2, eps, sqrtC2 } (all but n are f32 bit patterns).
// Dispatch: ceil(n / 256) workgroups, folded. vec4 variant (size % 4 = 0): n counts vec4s.
import { entry1d, type Kernel, uniformBlock } from './wgsl.ts';

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
