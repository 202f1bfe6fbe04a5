// Spawning Deno from Node tests: its environment (lavapipe unless a Vulkan driver was chosen) and
// a child process with a time limit whose output is kept. Shared by tests/deno/*.test.ts.
import { spawn } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lavapipeIcd } from '../setup/env.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Deno runs on lavapipe unless the user chose a Vulkan driver (see lavapipeIcd). The task's
 * `env deno` must find the same binary we start, so its folder goes first on PATH.
 */
export function denoEnv(deno: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', PATH: `${dirname(deno)}${delimiter}${process.env.PATH ?? ''}` };
  const lvp = lavapipeIcd();
  if (env.WGRAD_VK_ICD_DEFAULTED === '1' && lvp) env.VK_ICD_FILENAMES = lvp;
  return env;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; output: string }> {
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
