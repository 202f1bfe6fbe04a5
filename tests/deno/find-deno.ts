// Locate the Deno binary: WGRAD_DENO, then the one `npm ci` installs (devDependency `deno`), then PATH.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export function findDeno(): string | undefined {
  const override = process.env.WGRAD_DENO;
  if (override) return existsSync(override) ? override : undefined;
  const local = join(root, 'node_modules', 'deno', 'deno');
  if (existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'deno');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** What to tell someone whose machine has no Deno. */
export function denoMissingMessage(): string {
  const override = process.env.WGRAD_DENO;
  const looked = override ? `WGRAD_DENO=${override} does not exist` : 'not in node_modules/deno nor on PATH';
  return (
    `deno not found (${looked}). Run \`npm ci\` (it installs the devDependency \`deno\`; its install script must run), ` +
    `or install Deno 2 (https://deno.com), or set WGRAD_SKIP_DENO=1 to skip the Deno suite.`
  );
}
