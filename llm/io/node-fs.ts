// The only place the engine's readers and writers touch the file system. Node modules are loaded
// with dynamic import inside each function, so a browser bundle can import the readers without
// pulling in node:fs; calling these there fails with a clear message instead.

type Fs = typeof import('node:fs/promises');

async function fs(): Promise<Fs> {
  try {
    return await import('node:fs/promises');
  } catch {
    throw new Error('files by path need Node or Deno (node:fs/promises); in a browser, pass or take the bytes instead (readers take bytes; writePeft, writeMlx, hfWeights give them)');
  }
}

export async function readFileBytes(path: string): Promise<Uint8Array> {
  const buf = await (await fs()).readFile(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export async function readTextFile(path: string): Promise<string> {
  return (await fs()).readFile(path, 'utf8');
}

export async function makeDir(dir: string): Promise<void> {
  await (await fs()).mkdir(dir, { recursive: true });
}

/** Writes dir/name atomically: a temporary file in dir, then rename, so a reader never sees half a file. */
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

export async function pathKind(path: string): Promise<'file' | 'directory' | null> {
  try {
    const st = await (await fs()).stat(path);
    return st.isDirectory() ? 'directory' : st.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

/** Random access to a file too large to read whole. */
export interface FileRangeReader {
  readonly path: string;
  readonly size: number;
  /** Exactly `length` bytes at `position`; a short read (file changed under us) is an error. */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openFileRangeReader(path: string): Promise<FileRangeReader> {
  const handle = await (await fs()).open(path, 'r');
  const size = (await handle.stat()).size;
  return {
    path,
    size,
    async read(position: number, length: number): Promise<Uint8Array> {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, position + done);
        if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at byte ${position + done} (wanted ${length} bytes from ${position})`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/** Joins a directory and a relative name with '/' (Node accepts it on every platform). */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') || dir.endsWith('\\') ? dir + name : `${dir}/${name}`;
}

export function dirName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '.' : i === 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return path.slice(i + 1);
}
