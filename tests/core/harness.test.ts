// The harness must be able to fail: allClose/assertThrows reject what they should, with messages
// that point at the problem, and each backend-level case catches a broken primitive.
import { describe, expect, it } from 'vitest';
import type { Backend, Storage } from '../../backends/backend.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { backendCases } from './cases.ts';
import { allClose, assertThrows, runCases, unravel } from './harness.ts';

describe('allClose', () => {
  it('accepts values within atol + rtol·|expected|, NaN against NaN, matching infinities', () => {
    allClose([1, 2.00001, NaN, Infinity], [1, 2, NaN, Infinity], { atol: 0, rtol: 1e-5 });
  });

  it('reports the count and the worst element, as a multi-index when given a shape', () => {
    expect(() => allClose([0, 1.1, 2, 3.5], [0, 1, 2, 3], { atol: 0.01, rtol: 0, shape: [2, 2], label: 'lbl' })).toThrow(
      /^lbl: 2\/4 elements differ .*worst at \[1, 1\] \(flat 3\): got 3\.5, expected 3/,
    );
  });

  it('rejects NaN against a number, a wrong infinity, and a length mismatch', () => {
    expect(() => allClose([NaN], [0])).toThrow(/1\/1 elements differ/);
    expect(() => allClose([-Infinity], [Infinity])).toThrow(/differ/);
    expect(() => allClose([1, 2], [1])).toThrow(/length 2 != expected length 1/);
  });

  it('unravels row-major', () => {
    expect(unravel(5, [2, 3])).toEqual([1, 2]);
    expect(unravel(7, [2, 2, 2])).toEqual([1, 1, 1]);
  });
});

describe('assertThrows', () => {
  it('returns the error from a sync throw or an async rejection when the message matches', async () => {
    const e = await assertThrows(() => {
      throw new Error('shape mismatch [2] vs [3]');
    }, /mismatch \[2\]/);
    expect(e.message).toContain('shape mismatch');
    await assertThrows(async () => Promise.reject(new Error('out of range')), 'out of range');
  });

  it('fails when nothing throws, or the message does not match', async () => {
    await expect(assertThrows(() => 1, /x/)).rejects.toThrow(/expected an error matching \/x\/, none was thrown/);
    await expect(assertThrows(() => { throw new Error('abc'); }, 'xyz')).rejects.toThrow(/"abc" does not match xyz/);
  });
});

/**
 * A cpu backend whose one primitive (or `run`, every routine) is wrong: storages it returns read back with 1 added to their
 * first element (`free` instead forgets to free). Uses only the Backend interface.
 */
function breakPrimitive(name: 'upload' | 'elementwise' | 'reduce' | 'matmul' | 'run' | 'free'): Backend {
  const cpu = createCpuBackend();
  const tainted = new WeakSet<Storage>();
  return new Proxy(cpu, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      if (prop === name && name === 'free') return () => {}; // leaks: liveBuffers never goes back down
      if (prop === name) {
        return (...args: unknown[]) => {
          const s = (v as (...a: unknown[]) => Storage | Storage[]).apply(target, args);
          for (const t of Array.isArray(s) ? s : [s]) tainted.add(t); // elementwise returns one storage per output
          return s;
        };
      }
      if (prop === 'read') {
        return async (s: Storage) => {
          const data = await target.read(s);
          if (tainted.has(s)) data[0] += 1;
          return data;
        };
      }
      return v.bind(target);
    },
  });
}

describe('backend cases catch broken primitives', () => {
  const expectations: [Parameters<typeof breakPrimitive>[0], RegExp][] = [
    ['upload', /roundtrip/],
    ['free', /free returns/],
    ['elementwise', /elementwise add/],
    ['reduce', /reduce sum/],
    ['matmul', /matmul/],
    ['run', /softmax/], // the routines (softmax, rmsnorm, attention, ...) go through Backend.run
  ];
  for (const [prim, caseName] of expectations) {
    it(`a broken ${prim} fails "${caseName.source}"`, async () => {
      const results = await runCases(backendCases, breakPrimitive(prim));
      const failed = results.filter((r) => !r.ok).map((r) => r.name);
      expect(failed.some((n) => caseName.test(n)), `failed: ${failed.join('; ')}`).toBe(true);
    });
  }

  it('all pass on the real cpu backend', async () => {
    const results = await runCases(backendCases, createCpuBackend());
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });
});
