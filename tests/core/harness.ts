// The portable core-test harness: cases and assertions that run unchanged in Node (vitest),
// Deno (`deno test`) and a Chromium page. No node:/Deno imports here, only the language.
import type { Backend } from '../../backends/backend.ts';

export interface CoreCtx {
  backend: Backend;
}

/** One backend-agnostic test. Runners call `run` once per backend (cpu, webgpu). */
export interface CoreCase {
  name: string;
  run(ctx: CoreCtx): Promise<void>;
}

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError(message);
}

export function assertEqual<T>(actual: T, expected: T, label = 'value'): void {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${label}: expected ${String(expected)}, got ${String(actual)}`);
  }
}

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  /** Printed before the message, e.g. "softmax row 1". */
  label?: string;
  /** When given, the worst index is also printed as a multi-index, e.g. [1, 2]. */
  shape?: number[];
}

/** Row-major multi-index of flat index i in shape. */
export function unravel(i: number, shape: number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/**
 * |actual - expected| <= atol + rtol·|expected| elementwise (numpy's allclose). NaN matches NaN,
 * ±Infinity matches itself. On failure the message names the number of bad elements and the
 * worst one (largest excess over its tolerance) with both values, so a failing GPU kernel says
 * where it went wrong, not just that it did.
 */
export function allClose(actual: ArrayLike<number>, expected: ArrayLike<number>, opts: CloseOptions = {}): void {
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-5;
  const prefix = opts.label ? `${opts.label}: ` : '';
  if (actual.length !== expected.length) {
    throw new AssertionError(`${prefix}length ${actual.length} != expected length ${expected.length}`);
  }
  if (opts.shape && opts.shape.reduce((a, b) => a * b, 1) !== expected.length) {
    throw new AssertionError(`${prefix}shape [${opts.shape.join(', ')}] does not hold ${expected.length} elements`);
  }
  let bad = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    let excess: number;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      excess = Number.isNaN(e) && Number.isNaN(a) ? -Infinity : Infinity;
    } else if (!Number.isFinite(e) || !Number.isFinite(a)) {
      excess = a === e ? -Infinity : Infinity;
    } else {
      excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    }
    if (excess > 0) {
      bad++;
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (bad > 0) {
    const where = opts.shape ? `[${unravel(worst, opts.shape).join(', ')}] (flat ${worst})` : `${worst}`;
    const a = actual[worst];
    const e = expected[worst];
    throw new AssertionError(
      `${prefix}${bad}/${expected.length} elements differ (atol ${atol}, rtol ${rtol}); ` +
        `worst at ${where}: got ${a}, expected ${e}, |diff| ${Math.abs(a - e)}`,
    );
  }
}

/**
 * fn must throw (or reject) with a message matching `match`. Returns the error so callers can
 * check more. Async because engine errors may surface only when a value is read.
 */
export async function assertThrows(
  fn: () => unknown | Promise<unknown>,
  match?: RegExp | string,
  label = 'assertThrows',
): Promise<Error> {
  let thrown: unknown;
  let threw = false;
  try {
    await fn();
  } catch (e) {
    threw = true;
    thrown = e;
  }
  if (!threw) throw new AssertionError(`${label}: expected an error${match ? ` matching ${String(match)}` : ''}, none was thrown`);
  const err = thrown instanceof Error ? thrown : new Error(String(thrown));
  if (match !== undefined) {
    const ok = typeof match === 'string' ? err.message.includes(match) : match.test(err.message);
    if (!ok) throw new AssertionError(`${label}: error message ${JSON.stringify(err.message)} does not match ${String(match)}`);
  }
  return err;
}

export interface CaseResult {
  name: string;
  backend: string;
  ok: boolean;
  ms: number;
  error?: string;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}${e.stack ? `\n${e.stack.split('\n').slice(1, 6).join('\n')}` : ''}`;
  return String(e);
}

/**
 * Run every case against one backend, sequentially, never stopping at a failure. Used by the Deno
 * and browser runners, which report all results at the end; vitest registers cases itself.
 */
export async function runCases(
  cases: CoreCase[],
  backend: Backend,
  onResult?: (r: CaseResult) => void,
): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const c of cases) {
    const t0 = performance.now();
    let r: CaseResult;
    try {
      await c.run({ backend });
      r = { name: c.name, backend: backend.name, ok: true, ms: performance.now() - t0 };
    } catch (e) {
      r = { name: c.name, backend: backend.name, ok: false, ms: performance.now() - t0, error: describeError(e) };
    }
    results.push(r);
    onResult?.(r);
  }
  return results;
}

/** One line per failure, for the message a runner fails with. */
export function formatFailures(results: CaseResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map((r) => `[${r.backend}] ${r.name}: ${r.error ?? 'failed'}`)
    .join('\n');
}
