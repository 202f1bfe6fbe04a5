// MLX-style lazy execution of elementwise ops (issue 15). Eager is the default; lazy mode is
// `lazy(fn)`, `setMode('lazy')`, `init({ mode: 'lazy' })` or $WGRAD_MODE=lazy.
//
// In lazy mode an elementwise dispatch (ops/elementwise.ts's `run`: every op-table op, `fused`,
// `elementwise`, the ops' VJPs) does not run. Each output becomes a pending tensor holding a
// LazyNode: an expression (kernels/expr.ts) over argument nodes, which are pending nodes or
// computed values. Computed values are held by storage reference, not by tensor, so a tidy scope
// disposing an input, or an optimizer's `assign` repointing a parameter, cannot change what a
// pending value will read.
//
// Nothing runs until something needs a value's storage: a read (data, item), any op that is not
// elementwise (it touches `.storage`), a view (reshape, detach), `evaluate(...)`, or a chain
// outgrowing one kernel or holding too many disposed inputs alive (MAX_BUFFERS, MAX_NODES,
// MAX_ORPHAN_RATIO). Then the pending DAG under the value is
// substituted into ONE expression program over the computed values and run by the elementwise
// kernel. An intermediate is written only when a live tensor shows it and autograd will read it
// (the op marks it `saved`); it is then one more output of the same dispatch. Every other
// intermediate is inlined and never gets a buffer. Autograd is unchanged: ops record their VJPs
// over their (possibly pending) inputs and output, and the VJPs' programs are lazy too, so a
// backward chain fuses with the gradient that feeds it.
//
// Rounding: fusing is exact only where a backend computes every node in its storage precision:
// WebGPU (f32 nodes, f32 buffers) and the cpu backend in f64 mode. The cpu backend in f32 mode
// computes a program's nodes in float64 and rounds only its outputs, so there a value inlined into
// one kernel (float64) and read from a buffer in another (rounded) would differ, and comparisons of
// the two (maximum's tie split, clamps) would disagree. On that backend lazy mode therefore defers
// every op but fuses none: each op runs its eager program, and results equal eager bitwise.
import { expr as X, type Backend, type DType, type View } from '../backends/backend.ts';
import { getMode, setMode } from './context.ts';
import { SharedStorage, Tensor, type PendingValue } from './tensor.ts';

type Expr = X.Expr; type Program = X.Program; type ScalarType = X.ScalarType;

/**
 * Storage buffers one fused kernel binds (inputs + outputs): 8 is WebGPU's guaranteed
 * maxStorageBuffersPerShaderStage. Used on every backend, so cpu fuses exactly as a GPU does.
 */
export const MAX_BUFFERS = 8;
/** Pending nodes one program inlines before arguments are computed first (WGSL compile time grows with it). */
export const MAX_NODES = 64;
/**
 * A pending value may keep alive input buffers nothing else holds (their tensors were disposed)
 * up to this many times its own size; past that its arguments are computed first. Without it an
 * accumulation (`acc = acc.add(chunk)` with each chunk disposed) would hold every chunk until read,
 * where eager holds one.
 */
export const MAX_ORPHAN_RATIO = 2;

/**
 * What lazy mode did: ops recorded (each an eager dispatch), kernels run, values written, and pending values inlined
 * into another value's kernel (fused: computed there without a buffer of their own).
 */
export const lazyCounters = { recorded: 0, kernels: 0, written: 0, inlined: 0 };

const storageIds = new WeakMap<SharedStorage, number>();
let nextStorageId = 0;
function storageId(s: SharedStorage): number {
  let id = storageIds.get(s);
  if (id === undefined) storageIds.set(s, (id = nextStorageId++));
  return id;
}

const shapeKey = (shape: readonly number[]) => shape.join('x');

class LazyNode implements PendingValue {
  /** Holders: pending tensors showing this value and pending nodes reading it. */
  private refs = 0;
  /** Live pending tensors showing this value (0: only other nodes read it, so it is inlined). */
  tensors = 0;
  /** Autograd reads this value: written when its consumers run, instead of recomputed later. */
  saved = false;
  /** The inputs (by storage and shape) the program under this node reads; an over-estimate once arguments are computed. */
  leaves: Map<string, LazyNode>;
  /** Pending nodes inlined under this one, a shared node once per path (an over-estimate). */
  weight: number;

  constructor(
    readonly backend: Backend,
    readonly shape: readonly number[],
    readonly dtype: DType,
    public value: SharedStorage | null,
    public expr: Expr | null,
    public args: LazyNode[],
  ) {
    for (const a of args) a.ref();
    if (value) {
      this.leaves = new Map([[this.key(), this]]);
      this.weight = 0;
    } else {
      this.leaves = new Map(args.flatMap((a) => [...a.leaves]));
      this.weight = 1 + args.reduce((s, a) => s + a.weight, 0);
    }
  }

  key(): string { return `${storageId(this.value!)}:${shapeKey(this.shape)}`; }

  ref(): void { this.refs++; }

  unref(): void {
    if (--this.refs > 0) return;
    this.value?.release();
    this.value = null;
    this.forgetArgs();
  }

  /** The value was just computed: it is its own input from now on. */
  settle(value: SharedStorage): void {
    this.value = value;
    this.leaves = new Map([[this.key(), this]]);
    this.weight = 0;
    this.forgetArgs();
  }

  /** The expression and its arguments are no longer needed. */
  private forgetArgs(): void {
    const args = this.args;
    this.args = [];
    this.expr = null;
    for (const a of args) a.unref();
  }

  realize(): SharedStorage {
    if (!this.value) compute([this]);
    return this.value!.retain();
  }

  drop(): void {
    this.tensors--;
    this.unref();
  }
}

/** Whether a node computes in the precision its buffers store (see Rounding above): only then may kernels fuse. */
function fusesExactly(b: Backend): boolean {
  return b.name !== 'cpu' || b.precision === 'f64';
}

/** The node an op reads for tensor t: its pending value, or its storage held by the graph. */
function nodeOf(t: Tensor): LazyNode {
  const p = t.pendingValue;
  if (p instanceof LazyNode) return p;
  return new LazyNode(t.backend, t.shape, t.dtype, t.retainStorage(), null, []);
}

// Ops reuse their compiled Program objects (ops/elementwise.ts caches them), so their trees are kept too.
const trees = new WeakMap<Program, Expr[]>();

/** The outputs of a Program as expression trees over its input slots (shared subtrees stay shared). */
function treesOf(prog: Program): Expr[] {
  let out = trees.get(prog);
  if (out) return out;
  const e: Expr[] = [];
  prog.nodes.forEach((n, i) => {
    e[i] = n.k === 'in' ? X.input(n.i, n.t) : n.k === 'c' ? { k: 'c', v: n.v, t: n.t } : { k: n.k, a: n.a.map((j) => e[j]), t: n.t };
  });
  trees.set(prog, (out = prog.outputs.map((o) => e[o])));
  return out;
}

/**
 * Record one elementwise dispatch instead of running it: the outputs of `prog` over `inputs`
 * (input k read through broadcasting to `shape`) as pending tensors.
 */
export function recordLazy(backend: Backend, prog: Program, inputs: readonly Tensor[], shape: readonly number[]): Tensor[] {
  const args = inputs.map(nodeOf);
  if (!fusesExactly(backend)) compute(args.filter((a) => !a.value));
  // Keep every node within one kernel (at least one output binding left, a bounded number of
  // inlined nodes) and its orphaned inputs within MAX_ORPHAN_RATIO of its size: compute the
  // heaviest pending argument until it does.
  const outSize = shape.reduce((p, d) => p * d, 1) * prog.outputs.length;
  for (;;) {
    const leaves = new Map(args.flatMap((a) => [...a.leaves]));
    const weight = args.reduce((s, a) => s + a.weight, 0);
    let orphaned = 0;
    // Held only by this graph: the storage's one reference is a leaf node's (or a computed node's own).
    for (const l of leaves.values()) if (l.value && l.value.refs === 1) orphaned += l.value.storage.size;
    if (leaves.size + prog.outputs.length <= MAX_BUFFERS && weight < MAX_NODES && orphaned <= MAX_ORPHAN_RATIO * Math.max(outSize, 1)) break;
    const pending = args.filter((a) => !a.value);
    if (!pending.length) break; // the op alone is as large as its eager dispatch
    compute([pending.reduce((m, a) => (a.leaves.size + a.weight > m.leaves.size + m.weight ? a : m))]);
  }
  lazyCounters.recorded++;
  const nodes = treesOf(prog).map((t) => new LazyNode(backend, [...shape], t.t, null, t, args));
  return nodes.map((n) => {
    n.tensors++;
    n.ref();
    return new Tensor(n, n.shape, n.dtype);
  });
}

/** Autograd will read t: if it is still pending, write it when its consumers run. */
export function markSaved(t: Tensor): void {
  const p = t.pendingValue;
  if (p instanceof LazyNode && !p.value) p.saved = true;
}

/** Pending nodes under `roots` (roots included), arguments before their users. */
function pendingUnder(roots: readonly LazyNode[]): LazyNode[] {
  const order: LazyNode[] = [], seen = new Set<LazyNode>();
  const stack: [LazyNode, boolean][] = roots.map((r) => [r, false]);
  while (stack.length) {
    const [n, ready] = stack.pop()!;
    if (ready) { order.push(n); continue; }
    if (seen.has(n) || n.value) continue;
    seen.add(n);
    stack.push([n, true]);
    for (const a of n.args) if (!seen.has(a) && !a.value) stack.push([a, false]);
  }
  return order;
}

/** Compute pending nodes: one fused kernel per output shape (more only past the binding limit). */
function compute(targets: readonly LazyNode[]): void {
  const byShape = new Map<string, LazyNode[]>();
  const backends = new Map<Backend, number>();
  for (const t of new Set(targets)) { // mul(x, x): one node, one output
    if (t.value) continue;
    if (!backends.has(t.backend)) backends.set(t.backend, backends.size);
    const k = `${backends.get(t.backend)}|${shapeKey(t.shape)}`;
    byShape.set(k, [...(byShape.get(k) ?? []), t]);
  }
  // Smaller shapes first: an argument of an elementwise op is never larger than its output.
  const groups = [...byShape.values()].sort((a, b) => a[0].shape.reduce((p, d) => p * d, 1) - b[0].shape.reduce((p, d) => p * d, 1) || a[0].shape.length - b[0].shape.length);
  for (const g of groups) computeGroup(g.filter((t) => !t.value));
}

function computeGroup(targets: LazyNode[]): void {
  if (!targets.length) return;
  const shape = targets[0].shape, key = shapeKey(shape);
  const isTarget = new Set(targets);
  const wanted = pendingUnder(targets).filter((n) => !isTarget.has(n) && n.saved && n.tensors > 0);
  // Saved values of another shape (broadcast operands) get their own kernel first; the group
  // then reads them instead of recomputing them.
  const other = wanted.filter((n) => shapeKey(n.shape) !== key);
  if (other.length) compute(other);
  const extras = wanted.filter((n) => shapeKey(n.shape) === key && !n.value);

  const slots = new Map<string, number>();
  const inputs: LazyNode[] = [];
  const memo = new Map<LazyNode, Expr>();
  let pending = 0;
  const exprOf = (n: LazyNode): Expr => {
    let e = memo.get(n);
    if (e) return e;
    if (n.value) {
      const k = n.key();
      let slot = slots.get(k);
      if (slot === undefined) { slots.set(k, (slot = inputs.length)); inputs.push(n); }
      e = X.input(slot, n.dtype as ScalarType);
    } else {
      pending++;
      const local = new Map<Expr, Expr>();
      const sub = (x: Expr): Expr => {
        let r = local.get(x);
        if (r) return r;
        if (x.k === 'in') r = exprOf(n.args[x.i]);
        else if (x.k === 'c') r = x;
        else r = { k: x.k, a: x.a.map(sub), t: x.t };
        local.set(x, r);
        return r;
      };
      e = sub(n.expr!);
    }
    memo.set(n, e);
    return e;
  };
  const targetExprs = targets.map(exprOf);
  if (inputs.length + targets.length > MAX_BUFFERS && targets.length > 1) {
    // Too many buffers for one kernel: one target at a time (each fits on its own).
    for (const t of targets) computeGroup([t]);
    return;
  }
  const outs = [...targets, ...extras.slice(0, Math.max(0, MAX_BUFFERS - inputs.length - targets.length))];
  const prog = X.program([...targetExprs, ...outs.slice(targets.length).map(exprOf)], inputs.map((n) => n.dtype as ScalarType));
  const views = inputs.map((n) => broadcastView(n, shape));
  const storages = targets[0].backend.elementwise(prog, views, [...shape]);
  lazyCounters.kernels++;
  lazyCounters.written += outs.length;
  lazyCounters.inlined += pending - outs.length;
  outs.forEach((n, j) => n.settle(new SharedStorage(storages[j])));
}

/** A computed node read at every index of outShape (NumPy broadcasting: size-1 and missing dims repeat). */
function broadcastView(n: LazyNode, outShape: readonly number[]): View {
  const off = outShape.length - n.shape.length;
  const strides: number[] = new Array(outShape.length).fill(0);
  let acc = 1;
  for (let i = outShape.length - 1; i >= off; i--) {
    const d = n.shape[i - off];
    strides[i] = d === 1 ? 0 : acc;
    acc *= d;
  }
  return { storage: n.value!.storage, offset: 0, strides };
}

type Tree = Tensor | readonly Tree[] | { readonly [k: string]: Tree } | null | undefined | number | string | boolean;

function tensorsIn(v: Tree, out: Tensor[]): void {
  if (v instanceof Tensor) out.push(v);
  else if (Array.isArray(v)) for (const x of v) tensorsIn(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) tensorsIn(x as Tree, out);
}

/**
 * Compute every pending tensor in the arguments (tensors, or arrays / objects of them), fusing
 * what can share kernels: MLX's `mx.eval`. (`eval` itself cannot be declared in an ES module.)
 * Work is recorded like any eager op; reading a value still awaits the device.
 */
export function evaluate(...values: Tree[]): void {
  const ts: Tensor[] = [];
  for (const v of values) tensorsIn(v, ts);
  const nodes = ts.flatMap((t) => { const p = t.pendingValue; return p instanceof LazyNode && !p.value ? [p] : []; });
  compute(nodes);
  for (const t of ts) if (!t.isDisposed) void t.storage; // the tensors take their values
}

/**
 * Run fn in lazy mode, then restore the previous mode (after the promise settles when fn is
 * async: code running meanwhile is lazy too). Pending tensors it returns compute on first use.
 */
export function lazy<T>(fn: () => T): T {
  const prev = getMode();
  setMode('lazy');
  let r: T;
  try {
    r = fn();
  } catch (e) {
    setMode(prev);
    throw e;
  }
  if (r instanceof Promise) return r.finally(() => setMode(prev)) as T;
  setMode(prev);
  return r;
}

/** Whether t is a lazy value not computed yet. */
export function isPending(t: Tensor): boolean {
  const p = t.pendingValue;
  return p instanceof LazyNode && !p.value;
}
