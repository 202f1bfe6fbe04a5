// Reductions over any set of axes. Backends reduce x viewed as [outer, r, inner]; axes that are
// not one contiguous block are first permuted to the end.
import * as routines from '../../backends/routines/index.ts';
import type { ReduceOp } from '../../backends/backend.ts';
import { record } from '../autodiff.ts';
import { Tensor, shapeSize } from '../tensor.ts';
import { wrap } from './create.ts';
import { div, eq, exp, mul, sub } from './elementwise.ts';
import { broadcastTo, permute, reshape } from './shape.ts';
import { expectFloat, normAxis } from './util.ts';

export type Axes = number | number[] | undefined;

function normAxes(op: string, axes: Axes, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis(op, a, ndim));
  if (new Set(list).size !== list.length) throw new Error(`${op}: repeated axis in [${axes}]`);
  return list.sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Raw reduction (no autodiff) → shape with reduced axes kept as 1. */
function reduceRaw(op: ReduceOp, x: Tensor, axes: number[]): Tensor {
  const kept = keptShape(x.shape, axes);
  if (axes.length === 0) return x.view(x.shape);
  const contiguous = axes[axes.length - 1] - axes[0] === axes.length - 1;
  let src = x;
  let lo = axes[0], hi = axes[axes.length - 1] + 1;
  if (!contiguous) {
    const rest = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    src = permute(x, [...rest, ...axes]);
    lo = rest.length;
    hi = x.ndim;
  }
  const outer = shapeSize(src.shape.slice(0, lo));
  const r = shapeSize(src.shape.slice(lo, hi));
  const inner = shapeSize(src.shape.slice(hi));
  const out = wrap(x.backend.reduce(op, src.storage, outer, r, inner), kept, x.dtype);
  if (src !== x) src.dispose();
  return out;
}

function finish(t: Tensor, shape: readonly number[], axes: number[], keepdim: boolean): Tensor {
  return keepdim ? t : reshape(t, shape.filter((_, i) => !axes.includes(i)));
}

export function sum(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  const ax = normAxes('sum', axes, x.ndim);
  const kept = record(reduceRaw('sum', x, ax), 'sum', [x], (g) => [broadcastTo(g, x.shape)]);
  return finish(kept, x.shape, ax, keepdim);
}

export function mean(x: Tensor, axes?: Axes, keepdim = false): Tensor {
  expectFloat('mean', x);
  const ax = normAxes('mean', axes, x.ndim);
  const n = ax.reduce((p, a) => p * x.shape[a], 1);
  return div(sum(x, ax, keepdim), n);
}

/** max/min over axes; the gradient is shared evenly among tied extremes (as torch.amax). */
function extreme(op: 'max' | 'min', x: Tensor, axes: Axes, keepdim: boolean): Tensor {
  const ax = normAxes(op, axes, x.ndim);
  const out = reduceRaw(op, x, ax);
  const kept = record(out, op, [x], (g) => {
    const hit = eq(x, out);
    const count = reduceRaw('sum', hit, ax);
    return [mul(hit, div(g, count))];
  });
  return finish(kept, x.shape, ax, keepdim);
}
export const max = (x: Tensor, axes?: Axes, keepdim = false) => extreme('max', x, axes, keepdim);
export const min = (x: Tensor, axes?: Axes, keepdim = false) => extreme('min', x, axes, keepdim);

/** log Σ exp(x) over one axis (default the last), computed max-subtracted. */
export function logsumexp(x: Tensor, axis = -1, keepdim = false): Tensor {
  expectFloat('logsumexp', x);
  const a = normAxis('logsumexp', axis, x.ndim);
  const last = a === x.ndim - 1;
  const perm = x.shape.map((_, i) => i).filter((i) => i !== a).concat([a]);
  const src = last ? x : permute(x, perm);
  const cols = x.shape[a];
  const kept = keptShape(x.shape, [a]);
  const out = wrap(x.backend.run(routines.logsumexp, src.storage, x.size / Math.max(cols, 1), cols), kept);
  if (src !== x) src.dispose();
  const rec = record(out, 'logsumexp', [x], (g) => [mul(g, exp(sub(x, out)))]);
  return finish(rec, x.shape, [a], keepdim);
}

/** Index of the largest value along an axis (first on ties) → i32. */
export function argmax(x: Tensor, axis = -1, keepdim = false): Tensor {
  const a = normAxis('argmax', axis, x.ndim);
  const outer = shapeSize(x.shape.slice(0, a)), inner = shapeSize(x.shape.slice(a + 1));
  const out = wrap(x.backend.argmax(x.storage, outer, x.shape[a], inner), keptShape(x.shape, [a]), 'i32');
  return finish(out, x.shape, [a], keepdim);
}

/** Sum g down to `shape` (the inverse of broadcasting), for the backward of broadcast ops. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.ndim === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return reshape(sum(g, axes, true), shape);
}
