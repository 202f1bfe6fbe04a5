// Shape ops. reshape is a view; permute, slice, broadcastTo and concat materialise through the
// backend's strided copy, so every tensor stays contiguous.
import { record } from '../autodiff.ts';
import { Tensor, shapeSize, shapeStr } from '../tensor.ts';
import { full, wrap } from './create.ts';
import { sumTo } from './reduce.ts';
import { broadcastView, contiguousStrides, normAxis, sameBackend } from './util.ts';

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const infer = shape.indexOf(-1);
  let s = [...shape];
  if (infer >= 0) {
    const known = shapeSize(shape.filter((_, i) => i !== infer));
    if (known === 0 || x.size % known !== 0) throw new Error(`reshape: cannot infer -1 in ${shapeStr(shape)} for ${x.describe()}`);
    s[infer] = x.size / known;
  }
  if (shapeSize(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot view ${x.describe()} (${x.size} elements) as ${shapeStr(shape)}`);
  }
  const out = x.view(s);
  out.host = x.host;
  return record(out, 'reshape', [x], (g) => [reshape(g, x.shape)]);
}

export const flatten = (x: Tensor) => reshape(x, [x.size]);

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('unsqueeze', axis, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) throw new Error(`squeeze: dimension ${axis} of ${x.describe()} has size ${x.shape[a]}, expected 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normAxis('permute', a, x.ndim));
  if (p.length !== x.ndim || new Set(p).size !== p.length) {
    throw new Error(`permute: [${perm}] is not a permutation of the ${x.ndim} axes of ${x.describe()}`);
  }
  const strides = contiguousStrides(x.shape);
  const shape = p.map((a) => x.shape[a]);
  const out = wrap(x.backend.copy({ storage: x.storage, offset: 0, strides: p.map((a) => strides[a]) }, shape), shape, x.dtype);
  const inv = new Array(p.length);
  p.forEach((a, i) => (inv[a] = i));
  return record(out, 'permute', [x], (g) => [permute(g, inv)]);
}

/** Swap two axes (default the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const p = x.shape.map((_, i) => i);
  const i = normAxis('transpose', a, x.ndim), j = normAxis('transpose', b, x.ndim);
  [p[i], p[j]] = [p[j], p[i]];
  return permute(x, p);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const off = shape.length - x.ndim;
  if (off < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[off + i])) {
    throw new Error(`broadcastTo: cannot broadcast ${x.describe()} to ${shapeStr(shape)}`);
  }
  const out = wrap(x.backend.copy(broadcastView(x, shape), [...shape]), shape, x.dtype);
  return record(out, 'broadcastTo', [x], (g) => [sumTo(g, x.shape)]);
}

/** Per-axis [start, end) (negative counts from the end; null keeps the whole axis), optional step. */
export type Range = [number, number] | [number, number, number] | null;

export function slice(x: Tensor, ranges: readonly Range[]): Tensor {
  if (ranges.length > x.ndim) throw new Error(`slice: ${ranges.length} ranges for ${x.describe()}`);
  const strides = contiguousStrides(x.shape);
  let offset = 0;
  const shape: number[] = [], vstrides: number[] = [];
  x.shape.forEach((d, i) => {
    const r = ranges[i] ?? [0, d, 1];
    const step = r[2] ?? 1;
    if (!Number.isInteger(step) || step <= 0) throw new Error(`slice: step ${step} on axis ${i} must be a positive integer`);
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
    const s = clamp(r[0]), e = clamp(r[1]);
    const n = Math.max(0, Math.ceil((e - s) / step));
    shape.push(n);
    vstrides.push(strides[i] * step);
    offset += s * strides[i];
  });
  const out = wrap(x.backend.copy({ storage: x.storage, offset, strides: vstrides }, shape), shape, x.dtype);
  return record(out, 'slice', [x], (g) => {
    // Scatter g back into zeros shaped like x.
    const z = full(x.shape, 0, { backend: g.backend });
    x.backend.copyInto({ storage: z.storage, offset, strides: vstrides }, g.storage, shape);
    return [z];
  });
}

/** x[..., start:start+length, ...] along one axis. */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis('narrow', axis, x.ndim);
  if (start < 0 || length < 0 || start + length > x.shape[a]) {
    throw new Error(`narrow: [${start}, ${start + length}) is outside axis ${axis} of ${x.describe()}`);
  }
  const ranges: Range[] = x.shape.map(() => null);
  ranges[a] = [start, start + length];
  return slice(x, ranges);
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: needs at least one tensor');
  sameBackend('concat', ...xs);
  const a = normAxis('concat', axis, xs[0].ndim);
  for (const t of xs) {
    if (t.ndim !== xs[0].ndim || t.dtype !== xs[0].dtype || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(`concat: ${t.describe()} does not match ${xs[0].describe()} outside axis ${axis}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a], 0);
  const out = full(shape, 0, { dtype: xs[0].dtype, backend: xs[0].backend });
  const strides = contiguousStrides(shape);
  let start = 0;
  const starts: number[] = [];
  for (const t of xs) {
    starts.push(start);
    out.backend.copyInto({ storage: out.storage, offset: start * strides[a], strides }, t.storage, [...t.shape]);
    start += t.shape[a];
  }
  return record(out, 'concat', [...xs], (g) => xs.map((t, i) => (t.requiresGrad ? narrow(g, a, starts[i], t.shape[a]) : null)));
}

export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: needs at least one tensor');
  const a = normAxis('stack', axis, xs[0].ndim + 1);
  return concat(xs.map((t) => unsqueeze(t, a)), a);
}

/** Split into pieces of the given sizes along an axis. */
export function split(x: Tensor, sizes: readonly number[], axis = 0): Tensor[] {
  const a = normAxis('split', axis, x.ndim);
  if (sizes.reduce((p, q) => p + q, 0) !== x.shape[a]) {
    throw new Error(`split: sizes [${sizes}] do not add up to ${x.shape[a]} (axis ${axis} of ${x.describe()})`);
  }
  let start = 0;
  return sizes.map((n) => { const t = narrow(x, a, start, n); start += n; return t; });
}
