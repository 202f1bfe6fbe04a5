// Reverse-mode differentiation of elementwise expressions (kernels/expr.ts), symbolically: the
// gradient of a fused op is itself an expression, so its backward pass is one more dispatch
// (tinygrad's gradient.py does the same over its UOps). Each primitive's rule maps the incoming
// gradient g to one contribution per argument (null: no gradient flows there).
import { expr as X } from '../../backends/backend.ts';

type Arg = X.Arg; type Expr = X.Expr; type Prim = X.Prim;

type Rule = (a: readonly Expr[], y: Expr, g: Expr) => (Arg | null)[];
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const none: Rule = (a) => a.map(() => null);

/** Ties of max/min split the gradient evenly, as PyTorch does. */
const tieWeight = (wins: Expr, a: Expr, b: Expr) => X.add(wins, X.mul(X.eq(a, b), 0.5));

export const VJP: Record<Prim, Rule> = {
  neg: (_, __, g) => [X.neg(g)],
  abs: ([a], _, g) => [X.mul(g, X.sub(X.gt(a, 0), X.lt(a, 0)))],
  floor: none,
  exp: (_, y, g) => [X.mul(g, y)],
  expm1: (_, y, g) => [X.mul(g, X.add(y, 1))],
  log: ([a], _, g) => [X.div(g, a)],
  log1p: ([a], _, g) => [X.div(g, X.add(a, 1))],
  sqrt: (_, y, g) => [X.div(X.mul(g, 0.5), y)],
  sigmoid: (_, y, g) => [X.mul(g, X.mul(y, X.sub(1, y)))],
  tanh: (_, y, g) => [X.mul(g, X.sub(1, X.mul(y, y)))],
  erf: ([a], _, g) => [X.mul(g, X.mul(X.exp(X.neg(X.mul(a, a))), TWO_OVER_SQRT_PI))],
  softplus: ([a], _, g) => [X.mul(g, X.sigmoid(a))],
  sin: ([a], _, g) => [X.mul(g, X.cos(a))],
  cos: ([a], _, g) => [X.neg(X.mul(g, X.sin(a)))],
  add: (_, __, g) => [g, g],
  sub: (_, __, g) => [g, X.neg(g)],
  mul: ([a, b], _, g) => [X.mul(g, b), X.mul(g, a)],
  div: ([, b], y, g) => [X.div(g, b), X.neg(X.div(X.mul(g, y), b))],
  pow: ([a, b], y, g) => [X.mul(g, X.mul(b, X.pow(a, X.sub(b, 1)))), X.mul(g, X.mul(y, X.log(a)))],
  max: ([a, b], _, g) => {
    const w = tieWeight(X.gt(a, b), a, b);
    return [X.mul(g, w), X.mul(g, X.sub(1, w))];
  },
  min: ([a, b], _, g) => {
    const w = tieWeight(X.lt(a, b), a, b);
    return [X.mul(g, w), X.mul(g, X.sub(1, w))];
  },
  eq: none, ne: none, lt: none, le: none, gt: none, ge: none,
  // select picks, so the unpicked side gets an exact 0 (a NaN there does not leak).
  select: ([c], _, g) => [null, X.select(c, g, 0), X.select(c, 0, g)],
  to_f32: none, to_i32: none,
};

/** Post-order of the distinct nodes (by identity) under the roots; arguments before their users. */
function postOrder(roots: readonly Expr[]): Expr[] {
  const order: Expr[] = [], seen = new Set<Expr>();
  const stack: [Expr, boolean][] = roots.map((r) => [r, false]);
  while (stack.length) {
    const [e, ready] = stack.pop()!;
    if (ready) { order.push(e); continue; }
    if (seen.has(e)) continue;
    seen.add(e);
    stack.push([e, true]);
    if (e.k !== 'in' && e.k !== 'c') for (const a of e.a) if (!seen.has(a)) stack.push([a, false]);
  }
  return order;
}

/**
 * The vector-Jacobian product of `f` (an expression of inputs 0..n−1) for incoming gradient g:
 * one expression per input index (null where f does not depend on it differentiably).
 */
export function vjp(f: Expr, g: Expr, n: number): (Expr | null)[] {
  const adj = new Map<Expr, Expr>([[f, g]]);
  const grads: (Expr | null)[] = new Array(n).fill(null);
  const order = postOrder([f]);
  for (let i = order.length - 1; i >= 0; i--) {
    const e = order[i];
    const ge = adj.get(e);
    if (!ge) continue;
    if (e.k === 'in') {
      if (e.i < n && e.t === 'f32') grads[e.i] = grads[e.i] ? X.add(grads[e.i]!, ge) : ge;
      continue;
    }
    if (e.k === 'c' || e.t !== 'f32') continue;
    VJP[e.k](e.a, e, ge).forEach((c, j) => {
      const a = e.a[j];
      if (c === null || a.k === 'c' || a.t !== 'f32') return;
      const ce = typeof c === 'number' ? X.constant(c) : c;
      const prev = adj.get(a);
      adj.set(a, prev ? X.add(prev, ce) : ce);
    });
  }
  return grads;
}
