// Strided copies, moving raw 32-bit words so one pipeline serves f32 and i32.
//   copy:     out[i] = S[view s of i]        (materialise transpose / slice / broadcast)
//   copyInto: D[view d of i] = S[i]          (write a contiguous block through a window: concat, pad)
//   fill:     out[i] = bits                  (constant; the value travels as its bit pattern)
// Bindings: copy 0 S (read), 1 out (read_write), 2 uniform;  copyInto 0 D (read_write), 1 S (read), 2 uniform;
//           fill 0 out (read_write), 1 uniform { n, bits }.
// Dispatch: ceil(n / 256) workgroups, folded. copy/copyInto have vec4 variants as in binary.ts.
import { entry1d, type Kernel, stridedOffsets, uniformBlock } from './wgsl.ts';

export function copyKernel(rank: number, vec4 = false): Kernel {
  const { params, code: offsets } = stridedOffsets(rank, ['s']);
  const t = vec4 ? 'vec4<u32>' : 'u32';
  const code = `
@group(0) @binding(0) var<storage, read> S: array<${t}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${t}>;
${uniformBlock(params, 2)}
${entry1d(`  if (i >= P.n) { return; }
${offsets}
  Y[i] = S[off_s];`)}`;
  return { key: `copy:r${rank}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}

export function copyIntoKernel(rank: number, vec4 = false): Kernel {
  const { params, code: offsets } = stridedOffsets(rank, ['d']);
  const t = vec4 ? 'vec4<u32>' : 'u32';
  const code = `
@group(0) @binding(0) var<storage, read_write> D: array<${t}>;
@group(0) @binding(1) var<storage, read> S: array<${t}>;
${uniformBlock(params, 2)}
${entry1d(`  if (i >= P.n) { return; }
${offsets}
  D[off_d] = S[i];`)}`;
  return { key: `copyInto:r${rank}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}

export function fillKernel(): Kernel {
  const params = ['n', 'bits'];
  const code = `
@group(0) @binding(0) var<storage, read_write> Y: array<u32>;
${uniformBlock(params, 1)}
${entry1d(`  if (i >= P.n) { return; }
  Y[i] = P.bits;`)}`;
  return { key: 'fill', code, params, workgroupSize: 256 };
}
