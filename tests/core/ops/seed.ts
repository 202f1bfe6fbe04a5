// The seed every op test draws its inputs from: fixed, so a run is reproducible, and overridable
// by WGRAD_TEST_SEED (Node, and Deno where env access is allowed) to replay a failure or explore.
// checkOp prints it in every failure message. Portable: a browser page uses the default.

export const DEFAULT_TEST_SEED = 1234567;

export function testSeed(): number {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; Deno?: { env: { get(k: string): string | undefined } } };
  let v: string | undefined;
  try {
    v = g.process?.env?.WGRAD_TEST_SEED ?? g.Deno?.env.get('WGRAD_TEST_SEED');
  } catch {
    v = undefined; // Deno without --allow-env
  }
  if (v === undefined || v === '') return DEFAULT_TEST_SEED;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 31) throw new Error(`WGRAD_TEST_SEED: expected an integer in [0, 2^31), got "${v}"`);
  return n;
}
