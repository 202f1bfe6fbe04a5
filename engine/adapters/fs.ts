// Node-only file writes for adapters and exported models: every file is written under a temporary
// name in its destination folder and renamed into place, so a reader never sees half a file.
// node:fs is imported lazily (as engine/io/node-fs.ts does) so browser bundles can import the rest.

type Fs = typeof import('node:fs/promises');

async function fs(): Promise<Fs> {
  try {
    return await import('node:fs/promises');
  } catch {
    throw new Error('writing files by path needs Node or Deno (node:fs/promises); in a browser, use the in-memory writers (writePeft, writeMlx, hfWeights)');
  }
}

export async function makeDir(dir: string): Promise<void> {
  await (await fs()).mkdir(dir, { recursive: true });
}

/** Writes `bytes` (or text) to dir/name atomically: a temp file in dir, then rename. */
export async function writeFileAtomic(dir: string, name: string, contents: Uint8Array | string): Promise<void> {
  const f = await fs();
  const sep = dir.endsWith('/') || dir.endsWith('\\') ? '' : '/';
  const tmp = `${dir}${sep}.${name}.tmp-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    await f.writeFile(tmp, contents);
    await f.rename(tmp, `${dir}${sep}${name}`);
  } catch (e) {
    await f.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
