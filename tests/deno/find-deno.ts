// Locate the Deno binary: WGRAD_DENO, then the one `npm ci` installs (devDependency `deno`), then PATH.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export function findDeno(): string | undefined {
  if (process.env.WGRAD_DENO) return process.env.WGRAD_DENO;
  const local = join(root, 'node_modules', 'deno', 'deno');
  if (existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'deno');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}
