// Elementwise ops with NumPy broadcasting. Each op's backward sits next to its forward and is
// written with other ops, so every backend gets gradients from the same definitions.
import type { BinaryOp, UnaryOp } from '../../backends/backend.ts';
import { record } from '../autodiff.ts';
import { Tensor } from '../tensor.ts';
import { wrap } from './create.ts';
import { sumTo } from './reduce.ts';
import {
  TensorLike, broadcastShapes, broadcastView, expectFloat, lift, sameBackend,
} from './util.ts';

function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  return wrap(x.backend.unary(op, x.storage), x.shape);
}

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, a.shape, b.shape);
  return wrap(a.backend.binary(op, broadcastView(a, shape), broadcastView(b, shape), shape), shape);
}

function prepare(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) throw new Error(`${op}: at least one argument must be a tensor`);
  const ta = a instanceof Tensor ? a : lift(a, b as Tensor);
  const tb = lift(b, ta);
  sameBackend(op, ta, tb);
  if (ta.dtype !== tb.dtype) throw new Error(`${op}: dtypes differ (${ta.describe()} and ${tb.describe()}); cast one first`);
  return [ta, tb];
}

// ---- binary arithmetic ----

export function add(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare('add', a, b);
  return record(binaryRaw('add', x, y), 'add', [x, y], (g) => [sumTo(g, x.shape), sumTo(g, y.shape)]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare('sub', a, b);
  return record(binaryRaw('sub', x, y), 'sub', [x, y], (g) => [sumTo(g, x.shape), sumTo(neg(g), y.shape)]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare('mul', a, b);
  return record(binaryRaw('mul', x, y), 'mul', [x, y], (g) => [
    x.requiresGrad ? sumTo(mul(g, y), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, x), y.shape) : null,
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare('div', a, b);
  return record(binaryRaw('div', x, y), 'div', [x, y], (g) => [
    x.requiresGrad ? sumTo(div(g, y), x.shape) : null,
    // d(x/y)/dy = -x / y²
    y.requiresGrad ? sumTo(neg(div(mul(g, x), mul(y, y))), y.shape) : null,
  ]);
}

export function pow(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare('pow', a, b);
  expectFloat('pow', x);
  const out = binaryRaw('pow', x, y);
  return record(out, 'pow', [x, y], (g) => [
    x.requiresGrad ? sumTo(mul(g, mul(y, pow(x, sub(y, 1)))), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, mul(out, log(x))), y.shape) : null,
  ]);
}

/** maximum/minimum: on ties the gradient is split evenly, as PyTorch does. */
function minmax(op: 'maximum' | 'minimum', a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare(op, a, b);
  return record(binaryRaw(op, x, y), op, [x, y], (g) => {
    const xWins = op === 'maximum' ? gt(x, y) : lt(x, y);
    const wx = add(xWins, mul(eq(x, y), 0.5)); // 1 where x wins, 0.5 on ties, 0 else
    return [sumTo(mul(g, wx), x.shape), sumTo(mul(g, sub(1, wx)), y.shape)];
  });
}
export const maximum = (a: TensorLike, b: TensorLike) => minmax('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike) => minmax('minimum', a, b);

// ---- comparisons (no gradient; 0/1 in the inputs' dtype) ----

function compare(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare(op, a, b);
  return binaryRaw(op, x, y);
}
export const eq = (a: TensorLike, b: TensorLike) => compare('eq', a, b);
export const ne = (a: TensorLike, b: TensorLike) => compare('ne', a, b);
export const lt = (a: TensorLike, b: TensorLike) => compare('lt', a, b);
export const le = (a: TensorLike, b: TensorLike) => compare('le', a, b);
export const gt = (a: TensorLike, b: TensorLike) => compare('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike) => compare('ge', a, b);

/** cond ? a : b elementwise, broadcasting all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = prepare('where', a, b);
  sameBackend('where', cond, x);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, x.shape), y.shape);
  const out = wrap(
    x.backend.where(broadcastView(cond, shape), broadcastView(x, shape), broadcastView(y, shape), shape),
    shape, x.dtype,
  );
  return record(out, 'where', [x, y], (g) => {
    const zero = lift(0, g);
    return [
      x.requiresGrad ? sumTo(where(cond, g, zero), x.shape) : null,
      y.requiresGrad ? sumTo(where(cond, zero, g), y.shape) : null,
    ];
  });
}

// ---- unary ----

function unary(op: UnaryOp, x: Tensor, backward: (g: Tensor, out: Tensor) => Tensor): Tensor {
  expectFloat(op, x);
  const out = unaryRaw(op, x);
  return record(out, op, [x], (g) => [backward(g, out)]);
}

export function neg(x: Tensor): Tensor {
  if (x.dtype === 'i32') return unaryRaw('neg', x);
  return unary('neg', x, (g) => neg(g));
}
export const exp = (x: Tensor) => unary('exp', x, (g, y) => mul(g, y));
export const log = (x: Tensor) => unary('log', x, (g) => div(g, x));
export const sqrt = (x: Tensor) => unary('sqrt', x, (g, y) => div(mul(g, 0.5), y));
export const rsqrt = (x: Tensor) => unary('rsqrt', x, (g, y) => mul(g, mul(mul(y, mul(y, y)), -0.5)));
export const square = (x: Tensor) => unary('square', x, (g) => mul(g, mul(x, 2)));
export const reciprocal = (x: Tensor) => unary('recip', x, (g, y) => neg(mul(g, mul(y, y))));
export const abs = (x: Tensor) => unary('abs', x, (g) => mul(g, sign(x)));
export const sign = (x: Tensor) => unaryRaw('sign', x);
export const sin = (x: Tensor): Tensor => unary('sin', x, (g) => mul(g, cos(x)));
export const cos = (x: Tensor): Tensor => unary('cos', x, (g) => neg(mul(g, sin(x))));
export const erf = (x: Tensor) => unary('erf', x, (g) => mul(g, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI))));
export const sigmoid = (x: Tensor) => unary('sigmoid', x, (g, y) => mul(g, mul(y, sub(1, y))));
export const tanh = (x: Tensor) => unary('tanh', x, (g, y) => mul(g, sub(1, mul(y, y))));
export const relu = (x: Tensor) => unary('relu', x, (g) => mul(g, unaryRaw('step', x)));
export const softplus = (x: Tensor) => unary('softplus', x, (g) => mul(g, sigmoid(x)));
/** log σ(x) = -softplus(-x), stable for large |x|. */
export const logsigmoid = (x: Tensor) => unary('logsigmoid', x, (g) => mul(g, sigmoid(neg(x))));

/** x·σ(x); d/dx = σ(x)·(1 + x·(1 − σ(x))). */
export const silu = (x: Tensor) =>
  unary('silu', x, (g) => {
    const s = sigmoid(x);
    return mul(g, mul(s, add(1, mul(x, sub(1, s)))));
  });

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** GELU, 'erf' (exact) or 'tanh' (the approximation GPT-2 and Gemma use). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate === 'tanh') {
    return unary('gelu_tanh', x, (g) => {
      // u = c(x + 0.044715x³), d/dx = 0.5(1 + tanh u) + 0.5x(1 − tanh²u)·c(1 + 3·0.044715x²)
      const x2 = mul(x, x);
      const t = tanh(mul(add(x, mul(mul(x2, x), 0.044715)), SQRT_2_OVER_PI));
      const du = mul(add(mul(x2, 3 * 0.044715), 1), SQRT_2_OVER_PI);
      const d = add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, mul(t, t))), du));
      return mul(g, d);
    });
  }
  return unary('gelu_erf', x, (g) => {
    // d/dx = Φ(x) + x·φ(x)
    const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return mul(g, add(cdf, mul(x, pdf)));
  });
}

export function cast(x: Tensor, dtype: 'f32' | 'i32'): Tensor {
  if (x.dtype === dtype) return x.view(x.shape);
  return wrap(x.backend.unary(dtype === 'f32' ? 'cast_f32' : 'cast_i32', x.storage), x.shape, dtype);
}

export function floor(x: Tensor): Tensor { return unaryRaw('floor', x); }
