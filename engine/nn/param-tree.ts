// MLX's training shape on wgrad modules: parameters as a tree keyed like the model
// (mlx.nn.Module.trainable_parameters), freeze/unfreeze (Module.freeze(keys=..., recurse)),
// nn.value_and_grad(model, loss_fn) returning gradients in that same tree, and
// optimizer.update(model, grads). The same loop in the three frameworks:
//
//   PyTorch                         MLX                                        wgrad
//   loss = loss_fn(model, x, y)     loss_and_grad = nn.value_and_grad(         step = valueAndGradModel(model, lossFn)
//   loss.backward()                     model, loss_fn)                        const { value, grads } = step(x, y)
//   opt.step(); opt.zero_grad()     loss, grads = loss_and_grad(model, x, y)   opt.update(model, grads)
//                                   opt.update(model, grads)
//
// Gradients come from the same tape as valueAndGrad/backward (engine/autodiff.ts); no .grad is
// touched, so the PyTorch-style loop keeps working beside it.
import { grad, valueAndGrad as valueAndGradFn } from '../autodiff.ts';
import type { Tensor } from '../tensor.ts';
import type { Module } from './module.ts';

/** Tensors nested by the parts of their dotted names: { model: { layers: { 0: { ... } } } }. */
export interface ParamTree { [key: string]: Tensor | ParamTree }

/** A tree of named tensors ("a.b.c" → tree.a.b.c). */
export function treeFromNamed(named: [string, Tensor][]): ParamTree {
  const root: ParamTree = {};
  for (const [name, t] of named) {
    const parts = name.split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as ParamTree;
    node[parts[parts.length - 1]] = t;
  }
  return root;
}

/** The tree's tensors by dotted name (the inverse of treeFromNamed). */
export function flattenTree(tree: ParamTree, prefix = ''): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of Object.entries(tree)) {
    if (isTensor(v)) out.set(prefix + k, v);
    else for (const [n, t] of flattenTree(v, `${prefix}${k}.`)) out.set(n, t);
  }
  return out;
}

const isTensor = (v: unknown): v is Tensor => typeof v === 'object' && v !== null && 'shape' in v && 'dtype' in v && 'requiresGrad' in v;

/** The parameters that train (requiresGrad), as a tree. */
export function trainableTree(model: Module): ParamTree {
  return treeFromNamed(model.namedParameters().filter(([, p]) => p.requiresGrad));
}

/**
 * Freezes (or, with `on`, unfreezes) parameters: all of them, or those whose own name (the last part,
 * "weight", "lora_A") or full dotted name is in `keys` (MLX's freeze(keys=...)).
 */
export function setTrainable(model: Module, on: boolean, keys?: readonly string[]): void {
  const named = model.namedParameters();
  if (keys) {
    const known = new Set(named.flatMap(([n]) => [n, n.slice(n.lastIndexOf('.') + 1)]));
    const unknown = keys.filter((k) => !known.has(k));
    if (unknown.length) throw new Error(`${on ? 'unfreeze' : 'freeze'}: no parameter named ${unknown.join(', ')} (names like ${named.slice(0, 3).map(([n]) => n).join(', ')})`);
  }
  for (const [name, p] of named) {
    if (!keys || keys.includes(name) || keys.includes(name.slice(name.lastIndexOf('.') + 1))) p.requiresGrad = on;
  }
}

/**
 * nn.value_and_grad(model, lossFn): a function of the loss's other arguments returning the loss and
 * its gradients w.r.t. the model's trainable parameters, as a tree keyed like them.
 */
export function valueAndGradModel<A extends unknown[]>(model: Module, lossFn: (model: Module, ...args: A) => Tensor) {
  return (...args: A): { value: Tensor; grads: ParamTree } => {
    const params = model.namedParameters().filter(([, p]) => p.requiresGrad);
    if (!params.length) throw new Error('valueAndGrad(model, lossFn): the model has no trainable parameters (all frozen)');
    const value = lossFn(model, ...args);
    if (value.size !== 1) throw new Error(`valueAndGrad(model, lossFn): lossFn must return a scalar, got ${value.describe()}`);
    const gs = grad(value, params.map(([, p]) => p));
    // A parameter the loss does not reach gets no entry, so optimizer.update leaves it (and its state) alone.
    return { value, grads: treeFromNamed(params.flatMap(([n], i) => (gs[i] ? [[n, gs[i]!] as [string, Tensor]] : []))) };
  };
}

/**
 * valueAndGrad(model, lossFn) (MLX's nn.value_and_grad, gradients as a tree keyed like the model),
 * or valueAndGrad(fn) (gradients mirroring fn's arguments; engine/autodiff.ts).
 */
export function valueAndGrad<A extends unknown[]>(model: Module, lossFn: (model: Module, ...args: A) => Tensor): (...args: A) => { value: Tensor; grads: ParamTree };
export function valueAndGrad<A extends unknown[]>(fn: (...args: A) => Tensor): (...args: A) => { value: Tensor; grads: unknown[] };
export function valueAndGrad(a: unknown, lossFn?: unknown): unknown {
  if (typeof a === 'function') return valueAndGradFn(a as (...args: unknown[]) => Tensor);
  if (typeof lossFn !== 'function') throw new Error('valueAndGrad(model, lossFn): lossFn must be a function (model, ...args) => scalar loss');
  return valueAndGradModel(a as Module, lossFn as (model: Module, ...args: unknown[]) => Tensor);
}
