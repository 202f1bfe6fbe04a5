// Every op, plus the fluent methods on Tensor (x.add(y).sum()) that forward to them.
import { backward as backwardImpl, detach, registerAutodiffOps } from '../autodiff.ts';
import { Tensor } from '../tensor.ts';
import { full } from './create.ts';
import * as E from './elementwise.ts';
import * as M from './matmul.ts';
import * as N from './nn.ts';
import * as R from './reduce.ts';
import * as S from './shape.ts';
import type { BinaryName, TernaryName, UnaryName } from './op-table.ts';
import type { TensorLike } from './util.ts';

export * from './attention.ts';
export * from './create.ts';
export * from './elementwise.ts';
export * from './op-table.ts';
export { expr } from '../../backends/backend.ts';
export * from './grpo-objective.ts';
export * from './indexing.ts';
export * from './lm-head-logprobs.ts';
export * from './logprobs.ts';
export * from './lora-linear.ts';
export * from './matmul.ts';
export * from './nn.ts';
export * from './reduce.ts';
export * from './sample.ts';
export * from './shape.ts';
export type { TensorLike } from './util.ts';

registerAutodiffOps(E.add, (like, v) => full(like.shape, v, { dtype: like.dtype, backend: like.backend }));

/** One fluent method per op-table entry: x.exp(), a.add(b), a.where(cond, b) (as torch.Tensor.where). */
type TableMethods = { [K in UnaryName]: () => Tensor } & { [K in BinaryName]: (b: TensorLike) => Tensor } &
  { [K in TernaryName]: (cond: Tensor, other: TensorLike) => Tensor };

declare module '../tensor.ts' {
  interface Tensor extends TableMethods {
    gelu(approximate?: 'none' | 'tanh'): Tensor; cast(dtype: 'f32' | 'i32'): Tensor;
    sum(axes?: R.Axes, keepdim?: boolean): Tensor; mean(axes?: R.Axes, keepdim?: boolean): Tensor;
    max(axes?: R.Axes, keepdim?: boolean): Tensor; min(axes?: R.Axes, keepdim?: boolean): Tensor;
    logsumexp(axis?: number, keepdim?: boolean): Tensor; argmax(axis?: number, keepdim?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor; permute(perm: readonly number[]): Tensor;
    transpose(a?: number, b?: number): Tensor; readonly T: Tensor;
    slice(ranges: readonly S.Range[]): Tensor; narrow(axis: number, start: number, length: number): Tensor;
    squeeze(axis?: number): Tensor; unsqueeze(axis: number): Tensor; broadcastTo(shape: readonly number[]): Tensor;
    flatten(): Tensor;
    matmul(b: Tensor, opts?: M.MatmulOpts): Tensor;
    softmax(axis?: number): Tensor; logSoftmax(axis?: number): Tensor;
    backward(seed?: Tensor): void; detach(): Tensor;
  }
}

const P = Tensor.prototype as unknown as Record<string, unknown>;
for (const [k, f] of Object.entries(E.unaryFns)) P[k] = function (this: Tensor) { return f(this); };
for (const [k, f] of Object.entries(E.binaryFns)) P[k] = function (this: Tensor, b: TensorLike) { return f(this, b); };
for (const [k, f] of Object.entries(E.ternaryFns)) P[k] = function (this: Tensor, c: Tensor, o: TensorLike) { return f(c, this, o); };
const unary = { flatten: S.flatten, detach };
for (const [k, f] of Object.entries(unary)) P[k] = function (this: Tensor) { return f(this); };
const rest: Record<string, (x: Tensor, ...a: never[]) => unknown> = {
  gelu: E.gelu, cast: E.cast, sum: R.sum, mean: R.mean, max: R.max, min: R.min, logsumexp: R.logsumexp,
  argmax: R.argmax, reshape: S.reshape, permute: S.permute, transpose: S.transpose, slice: S.slice,
  narrow: S.narrow, squeeze: S.squeeze, unsqueeze: S.unsqueeze, broadcastTo: S.broadcastTo, matmul: M.matmul,
  softmax: N.softmax, logSoftmax: N.logSoftmax, backward: backwardImpl,
};
for (const [k, f] of Object.entries(rest)) P[k] = function (this: Tensor, ...a: never[]) { return f(this, ...a); };
Object.defineProperty(Tensor.prototype, 'T', { get(this: Tensor) { return S.transpose(this); } });

