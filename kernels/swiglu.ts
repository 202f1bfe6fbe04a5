// SwiGLU gate: out[i] = silu(g[i]) · u[i] = g[i] · σ(g[i]) · u[i] over contiguous G, U [n], f32.
// silu matches unary.ts's (NaN in, NaN out).
// Bindings: 0 G (read), 1 U (read), 2 out (read_write), 3 uniform { n }. Dispatch: ceil(n / 256)
// workgroups, folded. vec4 variant (size % 4 = 0): n counts vec4s.
import { MATH_F32 } from './math.ts';
import { entry1d, type Kernel, uniformBlock } from './wgsl.ts';

export function swigluKernel(vec4: boolean): Kernel {
  const params = ['n'];
  const t = vec4 ? 'vec4<f32>' : 'f32';
  const body = vec4
    ? `  let g = G[i];
  var r: vec4<f32>;
  for (var c = 0u; c < 4u; c = c + 1u) { r[c] = silu_(g[c]); }
  Y[i] = r * U[i];`
    : '  Y[i] = silu_(G[i]) * U[i];';
  const code = `${MATH_F32}
fn silu_(x: f32) -> f32 { return select(x * sigmoid_(x), x, is_nan_(x)); }
@group(0) @binding(0) var<storage, read> G: array<${t}>;
@group(0) @binding(1) var<storage, read> U: array<${t}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${t}>;
${uniformBlock(params, 3)}
${entry1d(`  if (i >= P.n) { return; }
${body}`)}`;
  return { key: `swiglu${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}
