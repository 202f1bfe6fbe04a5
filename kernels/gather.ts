// Row gather and its adjoint, for embeddings.
//   gather:     out[i, c] = T[idx[i], c]            T [rows, cols], idx i32 [n] → out [n, cols]
//   scatterAdd: out[idx[i], c] += S[i, c]           S [n, cols] → out [rows, cols] (zeroed first)
// gather moves raw 32-bit words (f32 or i32 tables); an out-of-range index (which the engine is
// meant to reject) reads as 0 / is dropped, never touching memory outside the buffers.
// scatterAdd on f32 has no atomic float add in WGSL: a compare-exchange loop on the bit pattern.
// Repeated indices therefore add in a nondeterministic order (differences at rounding level).
// Bindings: 0 T|S (read), 1 idx (read), 2 out (read_write), 3 uniform { n (= idx count · cols), rows, cols }.
// Dispatch: ceil(n / 256) workgroups, folded.
import { entry1d, type Kernel, uniformBlock } from './wgsl.ts';

const PARAMS = ['n', 'rows', 'cols'];

export function gatherKernel(): Kernel {
  const code = `
@group(0) @binding(0) var<storage, read> T: array<u32>;
@group(0) @binding(1) var<storage, read> I: array<i32>;
@group(0) @binding(2) var<storage, read_write> Y: array<u32>;
${uniformBlock(PARAMS, 3)}
${entry1d(`  if (i >= P.n) { return; }
  let t = I[i / P.cols];
  var v = 0u;
  if (t >= 0 && u32(t) < P.rows) { v = T[u32(t) * P.cols + i % P.cols]; }
  Y[i] = v;`)}`;
  return { key: 'gather', code, params: PARAMS, workgroupSize: 256 };
}

export function scatterAddKernel(dtype: 'f32' | 'i32'): Kernel {
  const add = dtype === 'i32'
    ? '  atomicAdd(&Y[p], v);'
    : `  var old = atomicLoad(&Y[p]);
  loop {
    let r = atomicCompareExchangeWeak(&Y[p], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }`;
  const code = `
@group(0) @binding(0) var<storage, read> S: array<${dtype}>;
@group(0) @binding(1) var<storage, read> I: array<i32>;
@group(0) @binding(2) var<storage, read_write> Y: array<atomic<${dtype === 'i32' ? 'i32' : 'u32'}>>;
${uniformBlock(PARAMS, 3)}
${entry1d(`  if (i >= P.n) { return; }
  let t = I[i / P.cols];
  if (t < 0 || u32(t) >= P.rows) { return; }
  let p = u32(t) * P.cols + i % P.cols;
  let v = S[i];
${add}`)}`;
  return { key: `scatterAdd:${dtype}`, code, params: PARAMS, workgroupSize: 256 };
}
