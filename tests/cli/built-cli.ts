// A private build of the `wgrad` CLI per test file (dist/test-cli-PID/cli.js), so test files that
// run in parallel never read a bundle another one is rewriting; removed when the file's tests end.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { cliBuildOptions, root } from '../../scripts/cli-bundle.mjs';

export interface BuiltCli {
  path: string;
  run: (args: string[], env?: NodeJS.ProcessEnv) => SpawnSyncReturns<string>;
  spawn: (args: string[], env?: NodeJS.ProcessEnv) => ReturnType<typeof spawn>;
  remove: () => void;
}

export async function buildCli(): Promise<BuiltCli> {
  const dir = join(root, 'dist', `test-cli-${process.pid}`);
  const path = join(dir, 'cli.js');
  await build({ ...cliBuildOptions(path), sourcemap: false });
  const envOf = (env?: NodeJS.ProcessEnv) => ({ ...process.env, WGRAD_BACKEND: 'cpu', ...env });
  return {
    path,
    run: (args, env) => spawnSync(process.execPath, [path, ...args], { encoding: 'utf8', env: envOf(env) }),
    spawn: (args, env) => spawn(process.execPath, [path, ...args], { env: envOf(env), stdio: ['ignore', 'pipe', 'pipe'] }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
