// Where the shared test assets live: $WGRAD_SHARED, else <repo root>/../shared. Suites that need
// them are skipped (with the path in their name) when the folder is absent.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_DIR = process.env.WGRAD_SHARED ?? join(repoRoot, '..', 'shared');
export const ASSETS = join(SHARED_DIR, 'assets');

/** Absolute path of a file under shared/assets. */
export function asset(relative: string): string {
  return join(ASSETS, relative);
}

/** True when every listed asset exists; otherwise logs which one is missing (once per call). */
export function haveAssets(...relatives: string[]): boolean {
  const missing = relatives.filter((r) => !existsSync(asset(r)));
  if (missing.length) console.warn(`skipping: shared assets missing (${missing.map(asset).join(', ')}); set WGRAD_SHARED`);
  return missing.length === 0;
}

/** Suffix for a describe() title explaining a skip. */
export function skipNote(ok: boolean): string {
  return ok ? '' : ` [SKIPPED: shared assets not found under ${ASSETS}]`;
}
