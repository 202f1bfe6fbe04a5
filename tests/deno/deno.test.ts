// `npm test` runs the Deno core suite (tests/deno/core_test.ts) through this file, as `deno task
// test` would. Deno missing is a failure that says what to install, unless WGRAD_SKIP_DENO=1.
import { spawn } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lavapipeIcd } from '../setup/env.ts';
import { denoMissingMessage, findDeno } from './find-deno.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const skip = process.env.WGRAD_SKIP_DENO === '1';

/**
 * Deno runs on lavapipe unless the user chose a Vulkan driver (see lavapipeIcd). The task's
 * `env deno` must find the same binary we start, so its folder goes first on PATH.
 */
function denoEnv(deno: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', PATH: `${dirname(deno)}${delimiter}${process.env.PATH ?? ''}` };
  const lvp = lavapipeIcd();
  if (env.WGRAD_VK_ICD_DEFAULTED === '1' && lvp) env.VK_ICD_FILENAMES = lvp;
  return env;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[killed: no result after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

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
