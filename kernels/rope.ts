// Rotary position embedding: X viewed as [rows, T, D] → Y [rows, T, D], f32, one thread per element.
// Tables C, S [blocks · T, h] with h = rd / 2; row r reads block r / perBlock (per-sequence positions:
// blocks = B, perBlock = H). Feature j < rd belongs to pair i with partner p:
//   'half':        j < h: i = j, p = j + h (first of the pair)    j ≥ h: i = j − h, p = j − h (second)
//   'interleaved': i = j / 2, p = j ^ 1, first when j is even
//   first:  y = x[j]·c − x[p]·s        second: y = x[j]·c + x[p]·s     (c, s = C, S at (t, i))
// i.e. (a, b) → (a·c − b·s, b·c + a·s); features j ≥ rd are copied. With S negated this is the
// inverse rotation, which is the backward pass.
// Bindings: 0 X (read), 1 C (read), 2 S (read), 3 Y (read_write), 4 uniform { n, T, D, rd, perBlock }.
// Dispatch: ceil(n / 256) workgroups, folded.
import { entry1d, type Kernel, uniformBlock } from './wgsl.ts';

/**
 * WGSL for element j of a head's rotated dims: `first` (the cos·x − sin·x' half), `pi` (its
 * frequency index) and `p` (its partner's index); `half` pairs j with j ± rd/2 (Llama/HF),
 * `interleaved` pairs 2i with 2i + 1 (llama2.c / GPT-J). `h` names the half-width variable.
 */
export function ropePair(style: 'half' | 'interleaved', h = 'h'): string {
  return style === 'half'
    ? `  let ${h} = P.rd / 2u;
  let first = j < ${h};
  let pi = select(j - ${h}, j, first);
  let p = select(j - ${h}, j + ${h}, first);`
    : `  let first = (j & 1u) == 0u;
  let pi = j / 2u;
  let p = j ^ 1u;`;
}

export function ropeKernel(style: 'half' | 'interleaved'): Kernel {
  const params = ['n', 'T', 'D', 'rd', 'perBlock'];
  const pair = ropePair(style);
  const code = `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> C: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
${uniformBlock(params, 4)}
${entry1d(`  if (i >= P.n) { return; }
  let j = i % P.D;
  if (j >= P.rd) { Y[i] = X[i]; return; }
  let rt = i / P.D; // row · T + t
  let t = rt % P.T;
  let block = (rt / P.T) / P.perBlock;
${pair}
  let k = (block * P.T + t) * (P.rd / 2u) + pi;
  let xp = X[i - j + p] * S[k];
  Y[i] = X[i] * C[k] + select(xp, -xp, first);`)}`;
  return { key: `rope:${style}`, code, params, workgroupSize: 256 };
}
