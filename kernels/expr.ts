// Elementwise expressions as plain data: what one elementwise dispatch computes per element.
// The engine builds them (its op table and fused ops); the WGSL builder (elementwise.ts) and the
// cpu backend evaluate them. An Expr is a tree that may share subtrees; `program` flattens the
// outputs of one dispatch into numbered nodes with equal subtrees merged (a DAG), which is what
// both evaluators walk and what keys the pipeline cache.
//
// Types: every node is f32 or i32. Inputs declare theirs; constants take their partner's; the
// functions below keep their arguments' type (comparisons give 0/1 in it), except the casts.
// Functions marked f32-only reject i32 arguments (cast first).

export type ScalarType = 'f32' | 'i32';

/** The primitive scalar functions: arity, and whether they are defined on i32. */
export const PRIMS = {
  neg: [1, true], abs: [1, true], floor: [1, true],
  exp: [1, false], expm1: [1, false], log: [1, false], log1p: [1, false], sqrt: [1, false],
  sigmoid: [1, false], tanh: [1, false], erf: [1, false], softplus: [1, false], sin: [1, false], cos: [1, false],
  add: [2, true], sub: [2, true], mul: [2, true], div: [2, true], pow: [2, true], max: [2, true], min: [2, true],
  eq: [2, true], ne: [2, true], lt: [2, true], le: [2, true], gt: [2, true], ge: [2, true],
  /** select(c, a, b) = c ≠ 0 ? a : b; c of either type. */
  select: [3, true],
  /** Casts: to_f32 widens, to_i32 is JavaScript's ToInt32 (truncate, wrap mod 2³², non-finite → 0). */
  to_f32: [1, true], to_i32: [1, true],
} as const satisfies Record<string, readonly [number, boolean]>;

export type Prim = keyof typeof PRIMS;

export type Expr =
  | { readonly k: 'in'; readonly i: number; readonly t: ScalarType }
  | { readonly k: 'c'; readonly v: number; readonly t: ScalarType }
  | { readonly k: Prim; readonly a: readonly Expr[]; readonly t: ScalarType };

export type Arg = Expr | number;

export function input(i: number, t: ScalarType = 'f32'): Expr {
  return { k: 'in', i, t };
}

export function constant(v: number, t: ScalarType = 'f32'): Expr {
  return { k: 'c', v: t === 'i32' ? v | 0 : v, t };
}

const isConst = (e: Expr, v: number) => e.k === 'c' && e.v === v;

/** Apply a primitive; numbers become constants of the first expression argument's type. */
export function call(p: Prim, ...args: Arg[]): Expr {
  const [arity, ints] = PRIMS[p];
  if (args.length !== arity) throw new Error(`expr: ${p} takes ${arity} arguments, got ${args.length}`);
  // select's condition does not decide the type; its values do.
  const typed = (p === 'select' ? args.slice(1) : args).find((a): a is Expr => typeof a !== 'number');
  const t: ScalarType = typed?.t ?? 'f32';
  const a = args.map((x) => (typeof x === 'number' ? constant(x, t) : x));
  const vals = p === 'select' ? a.slice(1) : a;
  if (p === 'to_f32' || p === 'to_i32') return a[0].t === (p === 'to_f32' ? 'f32' : 'i32') ? a[0] : { k: p, a, t: p === 'to_f32' ? 'f32' : 'i32' };
  if (vals.some((x) => x.t !== t)) throw new Error(`expr: ${p} arguments mix ${vals.map((x) => x.t).join(' and ')}; cast one first`);
  if (t === 'i32' && !ints) throw new Error(`expr: ${p} is defined on f32 only, got an i32 argument`);
  // Identities that keep every value (NaN included) exact: x·1, x/1, x±0, −(−x).
  if ((p === 'mul' && isConst(a[1], 1)) || (p === 'div' && isConst(a[1], 1)) || ((p === 'add' || p === 'sub') && isConst(a[1], 0))) return a[0];
  if ((p === 'mul' && isConst(a[0], 1)) || (p === 'add' && isConst(a[0], 0))) return a[1];
  if (p === 'neg' && a[0].k === 'neg') return (a[0] as { a: readonly Expr[] }).a[0];
  return { k: p, a, t };
}

// Builders for the primitives, so expressions read like formulas.
export const neg = (x: Arg) => call('neg', x);
export const abs = (x: Arg) => call('abs', x);
export const floor = (x: Arg) => call('floor', x);
export const exp = (x: Arg) => call('exp', x);
export const expm1 = (x: Arg) => call('expm1', x);
export const log = (x: Arg) => call('log', x);
export const log1p = (x: Arg) => call('log1p', x);
export const sqrt = (x: Arg) => call('sqrt', x);
export const sigmoid = (x: Arg) => call('sigmoid', x);
export const tanh = (x: Arg) => call('tanh', x);
export const erf = (x: Arg) => call('erf', x);
export const softplus = (x: Arg) => call('softplus', x);
export const sin = (x: Arg) => call('sin', x);
export const cos = (x: Arg) => call('cos', x);
export const add = (a: Arg, b: Arg) => call('add', a, b);
export const sub = (a: Arg, b: Arg) => call('sub', a, b);
export const mul = (a: Arg, b: Arg) => call('mul', a, b);
export const div = (a: Arg, b: Arg) => call('div', a, b);
export const pow = (a: Arg, b: Arg) => call('pow', a, b);
export const max = (a: Arg, b: Arg) => call('max', a, b);
export const min = (a: Arg, b: Arg) => call('min', a, b);
export const eq = (a: Arg, b: Arg) => call('eq', a, b);
export const ne = (a: Arg, b: Arg) => call('ne', a, b);
export const lt = (a: Arg, b: Arg) => call('lt', a, b);
export const le = (a: Arg, b: Arg) => call('le', a, b);
export const gt = (a: Arg, b: Arg) => call('gt', a, b);
export const ge = (a: Arg, b: Arg) => call('ge', a, b);
export const select = (c: Arg, a: Arg, b: Arg) => call('select', c, a, b);
export const toF32 = (x: Arg) => call('to_f32', x);
export const toI32 = (x: Arg) => call('to_i32', x);

/** One node of a Program: an input, a constant, or a primitive applied to earlier nodes. */
export type Node =
  | { k: 'in'; i: number; t: ScalarType }
  | { k: 'c'; v: number; t: ScalarType }
  | { k: Prim; a: number[]; t: ScalarType };

/** The outputs of one dispatch as a DAG in evaluation order (every node after its arguments). */
export interface Program {
  nodes: Node[];
  /** Node index of each output. */
  outputs: number[];
  /** Type of each input slot 0..n−1 (every slot is bound, used or not). */
  inputs: ScalarType[];
  /** Equal keys mean equal programs. */
  key: string;
}

function nodeKey(n: Node): string {
  if (n.k === 'in') return `in${n.i}:${n.t}`;
  if (n.k === 'c') return `c${Object.is(n.v, -0) ? '-0' : n.v}:${n.t}`;
  return `${n.k}(${n.a.join(',')})`;
}

/** Flatten `outputs` over inputs of types `inputs` into a Program, merging equal subtrees. */
export function program(outputs: readonly Expr[], inputs: readonly ScalarType[]): Program {
  const nodes: Node[] = [], keys: string[] = [];
  const byKey = new Map<string, number>();
  const memo = new Map<Expr, number>();
  const add = (n: Node): number => {
    const key = nodeKey(n);
    let id = byKey.get(key);
    if (id === undefined) {
      id = nodes.length;
      nodes.push(n);
      keys.push(key);
      byKey.set(key, id);
    }
    return id;
  };
  // Iterative post-order walk (derivative expressions can nest deeply).
  const visit = (root: Expr): number => {
    const stack: [Expr, boolean][] = [[root, false]];
    while (stack.length) {
      const [e, ready] = stack.pop()!;
      if (memo.has(e)) continue;
      if (e.k === 'in') {
        if (!(e.i >= 0 && e.i < inputs.length)) throw new Error(`expr: input ${e.i} is outside the ${inputs.length} inputs`);
        if (inputs[e.i] !== e.t) throw new Error(`expr: input ${e.i} is used as ${e.t} but bound as ${inputs[e.i]}`);
        memo.set(e, add({ k: 'in', i: e.i, t: e.t }));
      } else if (e.k === 'c') {
        memo.set(e, add({ k: 'c', v: e.v, t: e.t }));
      } else if (ready) {
        memo.set(e, add({ k: e.k, a: e.a.map((x) => memo.get(x)!), t: e.t }));
      } else {
        stack.push([e, true]);
        for (const x of e.a) if (!memo.has(x)) stack.push([x, false]);
      }
    }
    return memo.get(root)!;
  };
  const outs = outputs.map(visit);
  const key = `${inputs.join(',')}|${keys.join(';')}|${outs.join(',')}`;
  return { nodes, outputs: outs, inputs: [...inputs], key };
}
