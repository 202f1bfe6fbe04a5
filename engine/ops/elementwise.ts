// Elementwise ops with NumPy broadcasting, all through one backend primitive: an expression
// (kernels/expr.ts) evaluated in one dispatch. An ElementwiseOp is a forward expression plus its
// partial derivatives (declared, or derived symbolically by expr-grad.ts); its VJP is one more
// dispatch computing g·∂y/∂x for every input that needs a gradient. The op table (op-table.ts)
// is a list of them; `fused` makes one from any expression, so a chain of elementwise ops runs
// as one kernel each way; `elementwise` evaluates expressions without a gradient (backward passes).
import { expr as X, type View } from '../../backends/backend.ts';
import { isGradEnabled, record } from '../autodiff.ts';
import { getMode } from '../context.ts';
import { markSaved, recordLazy } from '../lazy.ts';
import { Tensor } from '../tensor.ts';
import { wrap } from './create.ts';
import { vjp } from './expr-grad.ts';
import { binaryOps, ternaryOps, unaryOps, type BinaryName, type TernaryName, type UnaryName } from './op-table.ts';
import { sumTo } from './reduce.ts';
import { TensorLike, broadcastShapes, broadcastView, expectFloat, lift, sameBackend } from './util.ts';

type Arg = X.Arg; type Expr = X.Expr; type Program = X.Program; type ScalarType = X.ScalarType;

/** Partials ∂y/∂x_k as expressions of the inputs and y (null: none), or 'derive' (symbolic). */
type Partials = ((...xy: Expr[]) => (Arg | null)[]) | 'derive' | null;

/** Expressions over inputs, flattened once per input types (and, for backward passes, per mask). */
class ProgramCache<T> {
  private readonly map = new Map<string, T>();
  get(key: string, make: () => T): T {
    if (!this.map.has(key)) {
      if (this.map.size >= 1024) this.map.clear();
      this.map.set(key, make());
    }
    return this.map.get(key)!;
  }
}

/**
 * A Program over only the input slots the outputs read (unused slots are not bound, so no
 * bandwidth is spent on them); `used` maps program inputs back to the caller's slots.
 */
type Compiled = { prog: Program; used: number[] };

function compile(outputs: readonly Expr[], types: readonly ScalarType[]): Compiled {
  const full = X.program(outputs, types);
  const used = [...new Set(full.nodes.flatMap((n) => (n.k === 'in' ? [n.i] : [])))].sort((a, b) => a - b);
  if (used.length === types.length) return { prog: full, used };
  const slot = new Map(used.map((u, j) => [u, j]));
  const remap = (e: Expr, memo: Map<Expr, Expr>): Expr => {
    let r = memo.get(e);
    if (r) return r;
    if (e.k === 'in') r = X.input(slot.get(e.i)!, e.t);
    else if (e.k === 'c') r = e;
    else r = { k: e.k, a: e.a.map((a) => remap(a, memo)), t: e.t };
    memo.set(e, r);
    return r;
  };
  const memo = new Map<Expr, Expr>();
  return { prog: X.program(outputs.map((o) => remap(o, memo)), used.map((u) => types[u])), used };
}

/**
 * Run outputs over tensors broadcast to `shape`: one dispatch, one tensor per output. In lazy
 * mode (engine/lazy.ts) the dispatch is recorded instead, and fuses with its neighbours.
 */
function run(compiled: Compiled, xs: readonly Tensor[], shape: number[]): Tensor[] {
  const used = compiled.used.map((u) => xs[u]);
  if (getMode() === 'lazy') return recordLazy(xs[0].backend, compiled.prog, used, shape);
  const views: View[] = used.map((x) => broadcastView(x, shape));
  return xs[0].backend.elementwise(compiled.prog, views, shape).map((s) => wrap(s, shape));
}

const inputs = (n: number, types: readonly ScalarType[], from = 0) =>
  Array.from({ length: n }, (_, k) => X.input(from + k, types[from + k]));

export class ElementwiseOp {
  private readonly forward = new ProgramCache<Compiled>();
  private readonly backward = new ProgramCache<{ outs: (Expr | null)[]; computed: (Expr | null)[]; compiled: Compiled | null }>();

  constructor(
    readonly name: string,
    readonly arity: number,
    readonly f: (...xs: Expr[]) => Expr,
    readonly partials: Partials,
    /** Defined on i32 inputs too. */
    readonly ints = false,
    /** Input k is a condition (any type, no gradient, not unified with the others). */
    readonly condition = false,
  ) {}

  /** Checks, broadcasting and the forward dispatch; records the VJP when an input needs it. */
  apply(args: readonly TensorLike[]): Tensor {
    const xs = prepare(this.name, args, this.condition);
    const values = this.condition ? xs.slice(1) : xs;
    if (!this.ints) expectFloat(this.name, ...values);
    const shape = xs.slice(1).reduce((s, x) => broadcastShapes(this.name, s, x.shape), [...xs[0].shape]);
    const types = xs.map((x) => x.dtype as ScalarType);
    const fwd = this.forward.get(types.join(), () => compile([this.f(...inputs(xs.length, types))], types));
    const [out] = run(fwd, xs, shape);
    if (this.partials === null) return out;
    if (getMode() === 'lazy' && isGradEnabled() && xs.some((x) => x.requiresGrad)) {
      // The backward will read these inputs (and maybe y): write them when this chain runs.
      const n = xs.length;
      for (const u of this.plan(xs).compiled?.used ?? []) if (u >= 1) markSaved(u <= n ? xs[u - 1] : out);
    }
    return record(out, this.name, xs, (g) => this.vjp(xs, out, g, shape));
  }

  /** One dispatch for every input that needs a gradient; an identity (add) costs none. */
  private vjp(xs: Tensor[], y: Tensor, g: Tensor, shape: number[]): (Tensor | null)[] {
    const plan = this.plan(xs);
    const results = plan.compiled ? run(plan.compiled, [g, ...xs, y], shape) : [];
    let next = 0;
    return plan.outs.map((c, k) => {
      if (c === null) return null;
      const gk = plan.computed[k] === null ? g : results[next++];
      return sumTo(gk, xs[k].shape);
    });
  }

  /** The backward program for these inputs: which need a gradient, and one program computing them. */
  private plan(xs: readonly Tensor[]) {
    const need = xs.map((x, k) => x.requiresGrad && x.dtype === 'f32' && !(this.condition && k === 0));
    // Slots: 0 = g, 1..n = inputs, n + 1 = y.
    const types: ScalarType[] = ['f32', ...xs.map((x) => x.dtype as ScalarType), 'f32'];
    const key = `${types.join()}|${need.map(Number).join('')}`;
    const n = xs.length;
    return this.backward.get(key, () => {
      const gIn = X.input(0), xIn = inputs(n, types, 1), yIn = X.input(n + 1);
      const contrib: (Expr | null)[] = this.partials === 'derive'
        ? vjp(this.f(...xIn), gIn, n + 1).slice(1, n + 1)
        : (this.partials as Exclude<Partials, 'derive' | null>)(...xIn, yIn).map((p) => (p === null ? null : times(gIn, p)));
      const outs = contrib.map((c, k) => (need[k] ? c : null));
      const computed = outs.map((c) => (c !== null && c !== gIn ? c : null));
      const list = computed.filter((c): c is Expr => c !== null);
      return { outs, computed, compiled: list.length ? compile(list, types) : null };
    });
  }
}

/**
 * g·∂y/∂x, where a zero partial gives an exact 0 and a select picks before multiplying, so a
 * non-finite g on the side not taken does not leak (where's gradient is exact zeros, as torch's).
 */
function times(g: Expr, p: Arg): Expr {
  if (typeof p === 'number') return p === 0 ? X.constant(0) : X.mul(g, p);
  if (p.k === 'c' && p.v === 0) return X.constant(0);
  if (p.k === 'select') return X.select(p.a[0], times(g, p.a[1]), times(g, p.a[2]));
  return X.mul(g, p);
}

/** Lift numbers to 0-d tensors, check backends, and unify the value inputs' dtype. */
function prepare(op: string, args: readonly TensorLike[], condition: boolean): Tensor[] {
  const like = args.find((a): a is Tensor => a instanceof Tensor);
  if (!like) throw new Error(`${op}: at least one argument must be a tensor`);
  const valueLike = (args.slice(condition ? 1 : 0).find((a): a is Tensor => a instanceof Tensor)) ?? like;
  const xs = args.map((a, k) => (a instanceof Tensor ? a : lift(a, condition && k === 0 ? like : valueLike)));
  sameBackend(op, ...xs);
  const values = condition ? xs.slice(1) : xs;
  if (values.some((x) => x.dtype !== values[0].dtype)) {
    throw new Error(`${op}: dtypes differ (${values.map((x) => x.describe()).join(' and ')}); cast one first`);
  }
  return xs;
}

/** Declare an elementwise op once (forward expression, partials) and call it on tensors. */
export function elementwiseOp(name: string, arity: number, f: (...xs: Expr[]) => Expr, partials: Partials = 'derive') {
  const op = new ElementwiseOp(name, arity, f, partials);
  return (...xs: TensorLike[]): Tensor => {
    if (xs.length !== arity) throw new Error(`${name}: expected ${arity} inputs, got ${xs.length}`);
    return op.apply(xs);
  };
}

/**
 * One fused kernel for f over the broadcast inputs, with its VJP (one more kernel) derived
 * symbolically: fused('dpo', [c, r], (c, r) => X.softplus(X.sub(r, c))).
 */
export function fused(name: string, xs: readonly TensorLike[], f: (...xs: Expr[]) => Expr): Tensor {
  return new ElementwiseOp(name, xs.length, f, 'derive').apply(xs);
}

/** Several expressions of the broadcast inputs in one dispatch, without a gradient (backward passes). */
export function elementwise(name: string, xs: readonly Tensor[], f: (...xs: Expr[]) => Expr[]): Tensor[] {
  sameBackend(name, ...xs);
  const shape = xs.slice(1).reduce((s, x) => broadcastShapes(name, s, x.shape), [...xs[0].shape]);
  const types = xs.map((x) => x.dtype as ScalarType);
  return run(compile(f(...inputs(xs.length, types)), types), xs, shape);
}

// ---- the table's ops as functions ----

const unaryImpl = Object.fromEntries(Object.entries(unaryOps).map(([name, e]) =>
  [name, new ElementwiseOp(name, 1, e.f as (x: Expr) => Expr, e.d as Partials, 'ints' in e && e.ints)])) as Record<UnaryName, ElementwiseOp>;
const binaryImpl = Object.fromEntries(Object.entries(binaryOps).map(([name, e]) =>
  [name, new ElementwiseOp(name, 2, e.f as (a: Expr, b: Expr) => Expr, e.d as Partials, e.ints)])) as Record<BinaryName, ElementwiseOp>;
const ternaryImpl = Object.fromEntries(Object.entries(ternaryOps).map(([name, e]) =>
  [name, new ElementwiseOp(name, 3, e.f as (c: Expr, a: Expr, b: Expr) => Expr, e.d as Partials, e.ints, true)])) as Record<TernaryName, ElementwiseOp>;

export const unaryFns = Object.fromEntries(Object.keys(unaryImpl).map((k) =>
  [k, (x: Tensor) => unaryImpl[k as UnaryName].apply([x])])) as Record<UnaryName, (x: Tensor) => Tensor>;
export const binaryFns = Object.fromEntries(Object.keys(binaryImpl).map((k) =>
  [k, (a: TensorLike, b: TensorLike) => binaryImpl[k as BinaryName].apply([a, b])])) as Record<BinaryName, (a: TensorLike, b: TensorLike) => Tensor>;
export const ternaryFns = Object.fromEntries(Object.keys(ternaryImpl).map((k) =>
  [k, (c: Tensor, a: TensorLike, b: TensorLike) => ternaryImpl[k as TernaryName].apply([c, a, b])])) as
  Record<TernaryName, (c: Tensor, a: TensorLike, b: TensorLike) => Tensor>;

export const {
  neg, exp, log, sqrt, rsqrt, abs, sign, floor, square, reciprocal, sin, cos, erf, sigmoid, tanh, relu, softplus,
  logsigmoid, silu, gelu_erf, gelu_tanh, mish, hardswish, log1mexp,
} = unaryFns;
export const { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge } = binaryFns;
export const { where } = ternaryFns;

/** GELU, 'none' (exact, erf) or 'tanh' (the approximation GPT-2 and Gemma use). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return approximate === 'tanh' ? gelu_tanh(x) : gelu_erf(x);
}

export function cast(x: Tensor, dtype: 'f32' | 'i32'): Tensor {
  if (x.dtype === dtype) return x.view(x.shape);
  const [y] = elementwise('cast', [x], (v) => [dtype === 'f32' ? X.toF32(v) : X.toI32(v)]);
  return y;
}
