// Select: out[i] = C[view c of i] != 0 ? A[view a of i] : B[view b of i] over outShape.
// A and B are moved as raw 32-bit words (u32), so one pipeline serves f32 and i32 values;
// the condition is read in its own dtype so that -0.0 counts as zero.
// Bindings: 0 C (read), 1 A (read), 2 B (read), 3 out (read_write), 4 uniform (stridedOffsets c, a, b).
// Dispatch: ceil(n / 256) workgroups, folded. vec4 variant as in binary.ts (everything counts vec4s).
import { entry1d, type Kernel, stridedOffsets, uniformBlock } from './wgsl.ts';

export function whereKernel(condDType: 'f32' | 'i32', rank: number, vec4 = false): Kernel {
  const { params, code: offsets } = stridedOffsets(rank, ['c', 'a', 'b']);
  const v = (t: string) => (vec4 ? `vec4<${t}>` : t);
  const zero = `${v(condDType)}(0)`;
  const code = `
@group(0) @binding(0) var<storage, read> C: array<${v(condDType)}>;
@group(0) @binding(1) var<storage, read> A: array<${v('u32')}>;
@group(0) @binding(2) var<storage, read> B: array<${v('u32')}>;
@group(0) @binding(3) var<storage, read_write> Y: array<${v('u32')}>;
${uniformBlock(params, 4)}
${entry1d(`  if (i >= P.n) { return; }
${offsets}
  Y[i] = select(B[off_b], A[off_a], C[off_c] != ${zero});`)}`;
  return { key: `where:${condDType}:r${rank}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}
