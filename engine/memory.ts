// tidy scopes: every tensor made inside `tidy(fn)` is disposed when fn returns, except the
// tensors fn returns (moved to the enclosing scope) and those marked with `keep()`.
// GPU memory is not garbage-collected, so training loops run each step inside one scope.
import type { Tensor } from './tensor.ts';

const scopes: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  if (scopes.length) scopes[scopes.length - 1].add(t);
}

export function untrack(t: Tensor): void {
  for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i].delete(t)) return;
}

/**
 * Whether a tensor belongs to the innermost tidy scope open now (made in it, or returned into it by
 * a nested tidy); null outside every scope. autodiff's freeGraph disposes only such tensors.
 */
export function currentScopeOwns(): ((t: Tensor) => boolean) | null {
  const scope = scopes[scopes.length - 1];
  return scope ? (t) => scope.has(t) : null;
}

/** Tensors found in a returned value: a Tensor, or arrays / plain objects holding tensors. */
function collect(v: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  // Not `.storage`: reading it would compute a lazy tensor (engine/lazy.ts).
  if (typeof (v as Tensor).retainStorage === 'function' && typeof (v as Tensor).dispose === 'function') {
    out.add(v as Tensor);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype || v instanceof Map) {
    for (const x of v instanceof Map ? v.values() : Object.values(v)) collect(x, out, seen);
  }
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new Error('tidy: fn returned a Promise; tidy scopes are synchronous (await outside the scope)');
    }
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const keepSet = new Set<Tensor>();
  collect(result, keepSet);
  for (const t of scope) {
    if (keepSet.has(t)) track(t);
    else t.dispose();
  }
  return result;
}

/** Dispose tensors found in v (a tensor, array or object of tensors). */
export function dispose(v: unknown): void {
  const s = new Set<Tensor>();
  collect(v, s);
  for (const t of s) t.dispose();
}
