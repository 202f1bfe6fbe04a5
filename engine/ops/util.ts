// Shared checks and stride arithmetic for ops.
import type { View } from '../../backends/backend.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { full } from './create.ts';

export type TensorLike = Tensor | number;

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** NumPy broadcasting of two shapes; the error names the op and the dimension that disagrees. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1, db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast (dimension ${i - n}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** A view of t read as outShape (t's shape broadcast to it): broadcast dims get stride 0. */
export function broadcastView(t: Tensor, outShape: readonly number[]): View {
  const strides = contiguousStrides(t.shape);
  const off = outShape.length - t.ndim;
  return {
    storage: t.storage,
    offset: 0,
    strides: outShape.map((d, i) => (i < off || t.shape[i - off] === 1 ? 0 : strides[i - off])),
  };
}

export function normAxis(op: string, axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor with ${ndim} dimensions`);
  }
  return a;
}

export function sameBackend(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.backend !== ts[0].backend) {
      throw new Error(`${op}: tensors live on different backends (${ts[0].backend.description} and ${t.backend.description})`);
    }
  }
}

export function expectFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== 'f32') throw new Error(`${op}: expected a float tensor (f32), got ${t.describe()}`);
  }
}

// Scalar constants are cached per backend and never disposed, so `x.mul(2)` outside a tidy
// scope leaks nothing and repeated scalars cost no allocation.
const constants = new WeakMap<object, Map<string, Tensor>>();
const MAX_CONSTANTS = 4096;

/** Numbers become 0-d tensors of the partner tensor's dtype on its backend. */
export function lift(x: TensorLike, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  const b = like.backend;
  let m = constants.get(b);
  if (!m) constants.set(b, (m = new Map()));
  const key = `${like.dtype}:${Object.is(x, -0) ? '-0' : x}`;
  let t = m.get(key);
  if (!t || t.isDisposed) {
    t = full([], x, { dtype: like.dtype, backend: b }).keep();
    if (m.size < MAX_CONSTANTS) m.set(key, t);
  }
  return t;
}
