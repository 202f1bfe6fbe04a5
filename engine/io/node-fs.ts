// The only place engine/io and engine/tokenizers touch the file system. Node modules are loaded
// with dynamic import inside each function, so a browser bundle can import the readers without
// pulling in node:fs; calling these there fails with a clear message instead.

type Fs = typeof import('node:fs/promises');

async function fs(): Promise<Fs> {
  try {
    return await import('node:fs/promises');
  } catch {
    throw new Error('reading files by path needs Node or Deno (node:fs/promises); in a browser, pass the file bytes instead');
  }
}

export async function readFileBytes(path: string): Promise<Uint8Array> {
  const buf = await (await fs()).readFile(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export async function readTextFile(path: string): Promise<string> {
  return (await fs()).readFile(path, 'utf8');
}

export async function writeFileBytes(path: string, bytes: Uint8Array): Promise<void> {
  await (await fs()).writeFile(path, bytes);
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
