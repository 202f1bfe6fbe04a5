// Reverse-mode autodiff over a tape of GradNodes. Each op records its inputs and a backward
// function (in engine/ops/*, next to its forward). `grad` is the one implementation behind
// both `loss.backward()` (PyTorch style, accumulates into .grad) and `valueAndGrad` (MLX/JAX style).
import { Tensor } from './tensor.ts';
import { currentScopeOwns, tidy } from './memory.ts';

export interface GradNode {
  op: string;
  inputs: Tensor[];
  /** Gradients w.r.t. inputs given the gradient of the output (null: no gradient flows there). */
  backward: (g: Tensor) => (Tensor | null)[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn without recording the tape (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Called by every differentiable op after computing `out` from `inputs`. */
export function record(out: Tensor, op: string, inputs: Tensor[], backward: GradNode['backward']): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

/** A tensor sharing x's values with no history. */
export function detach(x: Tensor): Tensor {
  const t = x.view(x.shape);
  t.host = x.host;
  return t;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  // Iterative DFS: model graphs are deep enough to overflow recursion.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) { order.push(t); continue; }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    for (const inp of t.node?.inputs ?? []) if (inp.requiresGrad && !seen.has(inp.id)) stack.push([inp, false]);
  }
  return order; // inputs before the tensors made from them
}

export interface GradOptions {
  /**
   * PyTorch's retain_graph=False, made explicit (GPU memory is not garbage-collected, so the engine
   * cannot see which tensors the caller still holds): every graph intermediate (a tensor with a
   * node) created in the caller's current tidy scope, except the loss, is disposed as soon as the
   * backward pass is done with it, and its node is dropped, so the graph cannot be differentiated
   * again. Read whatever you need from the forward (losses, metrics) BEFORE calling backward.
   * Leaves, tensors from outer scopes or kept, and tensors without a node are never touched.
   * Off (default): intermediates stay alive until the enclosing tidy ends, as before.
   */
  freeGraph?: boolean;
}

/**
 * Gradients of scalar `loss` with respect to `wrt` (null where loss does not depend on it).
 * `seed` replaces the implicit ones-gradient (vector-Jacobian products).
 *
 * Memory: each node's backward runs in a tidy of its own (its temporaries go at once), and each
 * intermediate gradient is disposed as soon as the node that consumes it has run; with
 * `freeGraph`, forward intermediates go too, each right after its own node's backward (every
 * node reading it comes after it in the topological order, so has run already). A closure that
 * saves a graph tensor other than its node's inputs and output would break that rule; the ops in
 * engine/ops save only those (or tensors without a node, which are never freed early). The peak is then about the forward's live activations plus
 * one node's working set, instead of the forward plus every gradient and temporary of the pass.
 */
export function grad(loss: Tensor, wrt: Tensor[], seed?: Tensor | null, opts: GradOptions = {}): (Tensor | null)[] {
  if (!seed && loss.size !== 1) {
    throw new Error(`backward: the loss must have one element, got ${loss.describe()} (pass a seed gradient for non-scalars)`);
  }
  if (!loss.requiresGrad) throw new Error('backward: the loss does not depend on any tensor that requires grad');
  const wanted = new Set(wrt.map((t) => t.id));
  // Read before grad's own scope opens: the scope whose intermediates freeGraph may dispose.
  const owned = opts.freeGraph ? currentScopeOwns() : null;
  const results = tidy(() => {
    const order = topoOrder(loss);
    const ours = currentScopeOwns()!; // grad's own scope: the gradients it makes
    const grads = new Map<number, Tensor>();
    // The seed is the caller's: held through a view, so disposing the view leaves it alone.
    grads.set(loss.id, seed ? seed.view(seed.shape) : constantLike(loss, 1));
    const out = new Map<number, Tensor>();
    noGrad(() => {
      for (let i = order.length - 1; i >= 0; i--) {
        const t = order[i];
        const g = grads.get(t.id);
        grads.delete(t.id);
        // A view, so two leaves never share one Tensor object (each may be disposed on its own).
        if (g && wanted.has(t.id)) out.set(t.id, g.view(g.shape));
        const node = t.node;
        if (g && node) {
          const gs = tidy(() => node.backward(g));
          node.inputs.forEach((inp, j) => {
            const gi = gs[j];
            if (!gi || !inp.requiresGrad) return;
            if (gi.shape.length !== inp.shape.length || gi.shape.some((d, k) => d !== inp.shape[k])) {
              throw new Error(`internal: ${node.op} backward gave ${gi.describe()} for input ${inp.describe()}`);
            }
            // Own the gradient through a view: backward may return g itself, one tensor for two
            // inputs (add), or a forward tensor; the view is ours to dispose, its storage shared.
            const mine = gi.view(gi.shape);
            const prev = grads.get(inp.id);
            if (prev) {
              grads.set(inp.id, addTensors(prev, mine));
              prev.dispose();
              mine.dispose();
            } else grads.set(inp.id, mine);
          });
          // The tensors this backward made (in our scope, not g) are held through views now.
          for (const gi of new Set(gs)) if (gi && gi !== g && ours(gi)) gi.dispose();
        }
        g?.dispose();
        // Every consumer of t comes after it in `order`, so all of them have run by now: with
        // freeGraph, t (its values and the tensors its node's closure saved) is needed no more.
        if (owned && node && t !== loss && !wanted.has(t.id) && owned(t)) t.dispose();
      }
    });
    return wrt.map((t) => out.get(t.id) ?? null);
  });
  return results;
}

/** loss.backward(): accumulate d loss / d leaf into every leaf's .grad. */
export function backward(loss: Tensor, seed?: Tensor | null, opts: GradOptions = {}): void {
  const leaves = topoOrder(loss).filter((t) => !t.node && t.requiresGrad);
  const gs = grad(loss, leaves, seed, opts);
  leaves.forEach((leaf, i) => {
    const g = gs[i];
    if (!g) return;
    if (leaf.grad) {
      const sum = noGrad(() => addTensors(leaf.grad!, g));
      leaf.grad.dispose();
      g.dispose();
      leaf.grad = sum.keep();
    } else {
      leaf.grad = g.keep();
    }
  });
}

type Tree = Tensor | Tree[] | { [k: string]: Tree };

function leavesOf(tree: Tree, out: Tensor[]): void {
  if (tree instanceof Tensor) out.push(tree);
  else if (Array.isArray(tree)) tree.forEach((x) => leavesOf(x, out));
  else if (tree && typeof tree === 'object') Object.values(tree).forEach((x) => leavesOf(x, out));
}

function rebuild(tree: Tree, next: () => Tensor | null): unknown {
  if (tree instanceof Tensor) return next();
  if (Array.isArray(tree)) return tree.map((x) => rebuild(x, next));
  if (tree && typeof tree === 'object') {
    return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, rebuild(v, next)]));
  }
  return tree;
}

/**
 * valueAndGrad(fn)(...args) → { value, grads }: grads mirror the tensors in args (arrays and
 * plain objects of tensors are followed), computed w.r.t. fresh leaves so no .grad is touched.
 */
export function valueAndGrad<A extends unknown[]>(fn: (...args: A) => Tensor) {
  return (...args: A): { value: Tensor; grads: unknown[] } => {
    const leaves: Tensor[] = [];
    const wrapped = args.map((a) => {
      if (!(a instanceof Tensor) && (typeof a !== 'object' || a === null)) return a;
      const inner: Tensor[] = [];
      leavesOf(a as Tree, inner);
      let i = 0;
      return rebuild(a as Tree, () => {
        const leaf = detach(inner[i++]);
        leaf.requiresGrad = true;
        leaves.push(leaf);
        return leaf;
      });
    }) as A;
    const value = fn(...wrapped);
    const gs = value.requiresGrad ? grad(value, leaves) : leaves.map(() => null);
    let i = 0;
    const grads = args.map((a) => {
      if (!(a instanceof Tensor) && (typeof a !== 'object' || a === null)) return null;
      return rebuild(a as Tree, () => {
        const g = gs[i] ?? noGrad(() => constantLike(leaves[i], 0));
        i++;
        return g;
      });
    });
    return { value, grads };
  };
}

// Filled in by ops/ at import time to avoid a cycle (autodiff ← ops ← autodiff).
let addImpl: (a: Tensor, b: Tensor) => Tensor;
let constantImpl: (like: Tensor, v: number) => Tensor;
export function registerAutodiffOps(add: typeof addImpl, constant: typeof constantImpl): void {
  addImpl = add;
  constantImpl = constant;
}
function addTensors(a: Tensor, b: Tensor): Tensor { return addImpl(a, b); }
function constantLike(t: Tensor, v: number): Tensor { return constantImpl(t, v); }
