// Argmax over the middle axis: X viewed as [outer, r, inner] → i32 index into r, [outer, groups, inner].
// Same tiling as reduce.ts (TX columns × TY lanes, workgroup-memory tree), carrying (value, index).
// Ties keep the smallest index (first maximum, as torch.argmax and the cpu backend); NaN never wins.
// A range with no candidate (empty, or all -inf / NaN) yields index 0 in the final pass.
//
// When r is split into groups, pass 1 writes each group's (value, index) pair and pass 2 reduces
// the pairs (`pairs` input: values plus the r-indices they came from).
// Bindings, in order: X (read), [XI (read, i32) if pairs], OI (read_write, i32), [OV (read_write) if
// partial], uniform { outer, r, inner, chunk, groups, colBlocks }.
// Dispatch: outer · groups · colBlocks workgroups, folded.
// vec4 variant (first pass only, inner = 1, r % 4 = 0): X read as vec4s; r and chunk count vec4s.
import { REDUCE_THREADS, reduceTileIndex } from './reduce.ts';
import { type Kernel, NONFINITE, uniformBlock } from './wgsl.ts';

export function argmaxKernel(dtype: 'f32' | 'i32', tx: number, o: { pairs: boolean; partial: boolean; vec4?: boolean }): Kernel {
  const vec4 = o.vec4 ?? false;
  if (vec4 && (tx !== 1 || o.pairs)) throw new Error('argmax: the vec4 variant needs inner = 1 and a first pass');
  const ty = REDUCE_THREADS / tx;
  const params = ['outer', 'r', 'inner', 'chunk', 'groups', 'colBlocks'];
  const low = dtype === 'f32' ? 'f32_neg_inf()' : 'bitcast<i32>(0x80000000u)';
  let b = 0;
  const decl: string[] = [`@group(0) @binding(${b++}) var<storage, read> X: array<${vec4 ? `vec4<${dtype}>` : dtype}>;`];
  if (o.pairs) decl.push(`@group(0) @binding(${b++}) var<storage, read> XI: array<i32>;`);
  decl.push(`@group(0) @binding(${b++}) var<storage, read_write> OI: array<i32>;`);
  if (o.partial) decl.push(`@group(0) @binding(${b++}) var<storage, read_write> OV: array<${dtype}>;`);
  decl.push(uniformBlock(params, b));
  const NONE = '0xffffffffu';
  const code = `${NONFINITE}
${decl.join('\n')}
var<workgroup> sv: array<${dtype}, ${REDUCE_THREADS}>;
var<workgroup> si: array<u32, ${REDUCE_THREADS}>;

@compute @workgroup_size(${tx}, ${ty}, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  ${reduceTileIndex(tx)}
  var best: ${dtype} = ${low};
  var bi = ${NONE};
  if (col < P.inner) {
    // Each lane visits its indices in increasing order, so strict > keeps the first maximum.
    for (var k = k0 + lid.y; k < k1; k = k + ${ty}u) {
${vec4
    ? `      let v4 = X[o * P.r + k];
      for (var c = 0u; c < 4u; c = c + 1u) {
        if (v4[c] > best) { best = v4[c]; bi = 4u * k + c; }
      }`
    : `      let at = (o * P.r + k) * P.inner + col;
      let v = X[at];
      if (v > best) { best = v; bi = ${o.pairs ? 'bitcast<u32>(XI[at])' : 'k'}; }`}
    }
  }
  let me = lid.y * ${tx}u + lid.x;
  sv[me] = best;
  si[me] = bi;
  workgroupBarrier();
  for (var s = ${ty / 2}u; s > 0u; s = s >> 1u) {
    if (lid.y < s) {
      let v2 = sv[me + s * ${tx}u];
      let i2 = si[me + s * ${tx}u];
      if (v2 > sv[me] || (v2 == sv[me] && i2 < si[me])) { sv[me] = v2; si[me] = i2; }
    }
    workgroupBarrier();
  }
  if (lid.y == 0u && col < P.inner) {
    let dst = (o * P.groups + g) * P.inner + col;
${o.partial
    ? `    OI[dst] = bitcast<i32>(si[lid.x]);
    OV[dst] = sv[lid.x];`
    : `    OI[dst] = select(i32(si[lid.x]), 0, si[lid.x] == ${NONE});`}
  }
}`;
  const key = `argmax:${dtype}:tx${tx}:${o.pairs ? 'pairs' : 'x'}:${o.partial ? 'partial' : 'final'}${vec4 ? ':v4' : ''}`;
  return { key, code, params, workgroupSize: REDUCE_THREADS };
}
