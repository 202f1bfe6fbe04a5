// Rotary embedding of one step's q and k, and the write of k and v into a preallocated KV cache, in
// one pass (decoding; kernels/rope.ts has the rotation alone):
//   q, k, v rows [B·T, ·] (row r = b·T + t; q at QI[qo + r·qs + h·D + j], k and v likewise, so the
//   three may be one fused projection output [B·T, (H + 2·KV)·D] bound three times)
//   → QO [B, H, T, D] (rotated), KC[b, kvh, start + t, :] (rotated), VC[b, kvh, start + t, :]
//   with KC, VC [B, KV, L, D] written in place (slots outside [start, start + T) are untouched).
// Rotation as kernels/rope.ts ('half' pairs (i, i + rd/2), 'interleaved' (2i, 2i + 1)): tables
// C, S [blocks · T, rd / 2], row r reads block b / (B / blocks); features j ≥ rd are copied.
// One thread per element of the q, k, v rows: E = B·T·(H + 2·KV)·D.
// Bindings: 0 QI, 1 KI, 2 VI, 3 C, 4 S (read), 5 QO, 6 KC, 7 VC (read_write), 8 uniform
//   { n, T, D, rd, perBlock, H, KV, L, start, qs, qo, ks, ko, vs, vo }.
// Dispatch: ceil(E / 256) workgroups, folded.
import { ropePair } from './rope.ts';
import { entry1d, type Kernel, uniformBlock } from './wgsl.ts';

export const KV_ROPE_PARAMS = ['n', 'T', 'D', 'rd', 'perBlock', 'H', 'KV', 'L', 'start', 'qs', 'qo', 'ks', 'ko', 'vs', 'vo'];

export function kvRopeKernel(style: 'half' | 'interleaved'): Kernel {
  const pair = ropePair(style, 'h2'); // h names the head below
  const code = `
@group(0) @binding(0) var<storage, read> QI: array<f32>;
@group(0) @binding(1) var<storage, read> KI: array<f32>;
@group(0) @binding(2) var<storage, read> VI: array<f32>;
@group(0) @binding(3) var<storage, read> C: array<f32>;
@group(0) @binding(4) var<storage, read> S: array<f32>;
@group(0) @binding(5) var<storage, read_write> QO: array<f32>;
@group(0) @binding(6) var<storage, read_write> KC: array<f32>;
@group(0) @binding(7) var<storage, read_write> VC: array<f32>;
${uniformBlock(KV_ROPE_PARAMS, 8)}

// (a, partner) → rotated a: a·c − partner·s for the first of a pair, a·c + partner·s for the second.
fn rot(a: f32, partner: f32, r: u32, j: u32) -> f32 {
${pair}
  let b = r / P.T;
  let t = r % P.T;
  let k = ((b / P.perBlock) * P.T + t) * (P.rd / 2u) + pi;
  let xp = partner * S[k];
  return a * C[k] + select(xp, -xp, first);
}

fn partnerOf(j: u32) -> u32 {
${style === 'half' ? '  let h2 = P.rd / 2u; return select(j - h2, j + h2, j < h2);' : '  return j ^ 1u;'}
}

${entry1d(`  if (i >= P.n) { return; }
  let width = (P.H + 2u * P.KV) * P.D;
  let r = i / width;
  let c = i % width;
  let b = r / P.T;
  let t = r % P.T;
  if (c < P.H * P.D) {
    let h = c / P.D;
    let j = c % P.D;
    let src = P.qo + r * P.qs + h * P.D;
    var y = QI[src + j];
    if (j < P.rd) { y = rot(y, QI[src + partnerOf(j)], r, j); }
    QO[((b * P.H + h) * P.T + t) * P.D + j] = y;
    return;
  }
  let ck = c - P.H * P.D;
  if (ck < P.KV * P.D) {
    let h = ck / P.D;
    let j = ck % P.D;
    let src = P.ko + r * P.ks + h * P.D;
    var y = KI[src + j];
    if (j < P.rd) { y = rot(y, KI[src + partnerOf(j)], r, j); }
    KC[((b * P.KV + h) * P.L + P.start + t) * P.D + j] = y;
    return;
  }
  let cv = ck - P.KV * P.D;
  let h = cv / P.D;
  let j = cv % P.D;
  VC[((b * P.KV + h) * P.L + P.start + t) * P.D + j] = VI[P.vo + r * P.vs + h * P.D + j];`)}`;
  return { key: `kv-rope:${style}`, code, params: KV_ROPE_PARAMS, workgroupSize: 256 };
}
