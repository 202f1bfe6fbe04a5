// `npm test` runs the Deno core suite (tests/deno/core_test.ts) through this file, as `deno task
// test` would. Deno missing is a failure that says what to install, unless WGRAD_SKIP_DENO=1.
import { describe, expect, it } from 'vitest';
import { denoMissingMessage, findDeno } from './find-deno.ts';
import { denoEnv, run } from './spawn.ts';

const skip = process.env.WGRAD_SKIP_DENO === '1';

describe.skipIf(skip)('core suite in Deno', () => {
  it('runs `deno task test` (WebGPU smoke + every core case on cpu and webgpu)', { timeout: 300_000 }, async () => {
    const deno = findDeno();
    expect(deno, denoMissingMessage()).toBeTruthy();
    const { code, output } = await run(deno!, ['task', '--quiet', 'test'], denoEnv(deno!), 280_000);
    expect(code, `deno test failed (exit ${code}):\n${output.slice(-8000)}`).toBe(0);
    // Guard against a suite that silently ran nothing: the core cases are steps.
    expect(output, output).toMatch(/ok \| [1-9]\d* passed \([1-9]\d* steps\)/);
    const adapter = /adapter: (.*)/.exec(output)?.[1];
    console.log(`deno adapter: ${adapter}; ${/ok \| .*/.exec(output)?.[0]}`);
  });
});
