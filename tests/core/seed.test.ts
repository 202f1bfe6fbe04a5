// The op tests' input seed: a fixed default, replaced by WGRAD_TEST_SEED, checked.
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_TEST_SEED, testSeed } from './ops/seed.ts';

const saved = process.env.WGRAD_TEST_SEED;
afterEach(() => {
  if (saved === undefined) delete process.env.WGRAD_TEST_SEED;
  else process.env.WGRAD_TEST_SEED = saved;
});

it('is fixed by default and WGRAD_TEST_SEED replaces it', () => {
  delete process.env.WGRAD_TEST_SEED;
  expect(testSeed()).toBe(DEFAULT_TEST_SEED);
  process.env.WGRAD_TEST_SEED = '42';
  expect(testSeed()).toBe(42);
});

it('rejects a WGRAD_TEST_SEED that is not an integer in [0, 2^31)', () => {
  for (const bad of ['x', '1.5', '-1', '4294967296']) {
    process.env.WGRAD_TEST_SEED = bad;
    expect(() => testSeed()).toThrow(`WGRAD_TEST_SEED: expected an integer in [0, 2^31), got "${bad}"`);
  }
});
