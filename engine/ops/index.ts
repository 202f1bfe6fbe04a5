// Every op, plus the fluent methods on Tensor (x.add(y).sum()) that forward to them.
import { backward as backwardImpl, detach, registerAutodiffOps } from '../autodiff.ts';
import { Tensor } from '../tensor.ts';
import { full } from './create.ts';
import * as E from './elementwise.ts';
import * as M from './matmul.ts';
import * as N from './nn.ts';
import * as R from './reduce.ts';
import * as S from './shape.ts';
import type { TensorLike } from './util.ts';

export * from './attention.ts';
export * from './create.ts';
export * from './elementwise.ts';
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

declare module '../tensor.ts' {
  interface Tensor {
    add(b: TensorLike): Tensor; sub(b: TensorLike): Tensor; mul(b: TensorLike): Tensor; div(b: TensorLike): Tensor;
    pow(b: TensorLike): Tensor; maximum(b: TensorLike): Tensor; minimum(b: TensorLike): Tensor;
    eq(b: TensorLike): Tensor; ne(b: TensorLike): Tensor; lt(b: TensorLike): Tensor; le(b: TensorLike): Tensor;
    gt(b: TensorLike): Tensor; ge(b: TensorLike): Tensor;
    neg(): Tensor; exp(): Tensor; log(): Tensor; sqrt(): Tensor; rsqrt(): Tensor; abs(): Tensor; square(): Tensor;
    sigmoid(): Tensor; tanh(): Tensor; relu(): Tensor; silu(): Tensor; softplus(): Tensor; logsigmoid(): Tensor;
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
const binary = { add: E.add, sub: E.sub, mul: E.mul, div: E.div, pow: E.pow, maximum: E.maximum, minimum: E.minimum,
  eq: E.eq, ne: E.ne, lt: E.lt, le: E.le, gt: E.gt, ge: E.ge };
for (const [k, f] of Object.entries(binary)) P[k] = function (this: Tensor, b: TensorLike) { return f(this, b); };
const unary = { neg: E.neg, exp: E.exp, log: E.log, sqrt: E.sqrt, rsqrt: E.rsqrt, abs: E.abs, square: E.square,
  sigmoid: E.sigmoid, tanh: E.tanh, relu: E.relu, silu: E.silu, softplus: E.softplus, logsigmoid: E.logsigmoid,
  flatten: S.flatten, detach };
for (const [k, f] of Object.entries(unary)) P[k] = function (this: Tensor) { return f(this); };
const rest: Record<string, (x: Tensor, ...a: never[]) => unknown> = {
  gelu: E.gelu, cast: E.cast, sum: R.sum, mean: R.mean, max: R.max, min: R.min, logsumexp: R.logsumexp,
  argmax: R.argmax, reshape: S.reshape, permute: S.permute, transpose: S.transpose, slice: S.slice,
  narrow: S.narrow, squeeze: S.squeeze, unsqueeze: S.unsqueeze, broadcastTo: S.broadcastTo, matmul: M.matmul,
  softmax: N.softmax, logSoftmax: N.logSoftmax, backward: backwardImpl,
};
for (const [k, f] of Object.entries(rest)) P[k] = function (this: Tensor, ...a: never[]) { return f(this, ...a); };
Object.defineProperty(Tensor.prototype, 'T', { get(this: Tensor) { return S.transpose(this); } });

