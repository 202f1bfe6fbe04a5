// The strided walk every cpu primitive over views (elementwise, copy, copyInto) shares.

/**
 * Walk every multi-index of `shape` in row-major order. For each run along the last axis, fn gets
 * the flat output index, the run length and each view's starting offset and last-axis stride, so
 * callers loop over the innermost axis without a call per element.
 */
export function forEachRun(
  shape: number[],
  views: { offset: number; strides: number[] }[],
  fn: (out: number, len: number, offs: number[], inner: number[]) => void,
) {
  const nd = shape.length;
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === 0) return;
  if (nd === 0) { fn(0, 1, views.map((v) => v.offset), views.map(() => 0)); return; }
  const len = shape[nd - 1];
  const inner = views.map((v) => v.strides[nd - 1]);
  const idx = new Array(nd - 1).fill(0);
  const offs = views.map((v) => v.offset);
  for (let out = 0; out < size; out += len) {
    fn(out, len, offs, inner);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      for (let v = 0; v < views.length; v++) offs[v] += views[v].strides[d];
      if (idx[d] < shape[d]) break;
      for (let v = 0; v < views.length; v++) offs[v] -= views[v].strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}
