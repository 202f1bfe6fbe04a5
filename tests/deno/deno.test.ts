// `npm test` runs the Deno core suite (tests/deno/core_test.ts) through this file, as `deno task
// test` would. Deno missing is a failure that says what to install, unless WGRAD_SKIP_DENO=1.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lavapipeIcd } from '../setup/env.ts';
import { findDeno } from './find-deno.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const skip = process.env.WGRAD_SKIP_DENO === '1';

/** Deno runs on lavapipe unless the user chose a Vulkan driver (see lavapipeIcd). */
function denoEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  const lvp = lavapipeIcd();
  if (env.WGRAD_VK_ICD_DEFAULTED === '1' && lvp) env.VK_ICD_FILENAMES = lvp;
  return env;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env: denoEnv() });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
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
    expect(deno, 'deno not found: run `npm ci` (devDependency `deno`), or install Deno 2, or set WGRAD_SKIP_DENO=1').toBeTruthy();
    const { code, output } = await run(deno!, ['task', '--quiet', 'test'], 280_000);
    expect(code, `deno test failed (exit ${code}):\n${output.slice(-8000)}`).toBe(0);
    // Guard against a suite that silently ran nothing.
    expect(output, output).toMatch(/ok \| [1-9]\d* passed/);
    const adapter = /adapter: (.*)/.exec(output)?.[1];
    console.log(`deno adapter: ${adapter}; ${/ok \| .*/.exec(output)?.[0]}`);
  });
});
