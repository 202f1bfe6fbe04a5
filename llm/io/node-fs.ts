// The only place the toolkit's readers and writers touch a file system. By default that is Node's
// or Deno's (node:fs/promises, loaded lazily so a browser bundle never pulls it in); a browser
// installs its own with setFileSystem (the web app's worker mounts picked files and the Origin
// Private File System), and the same loaders, trainer and checkpoints run there unchanged.

/** The few operations the toolkit needs; paths use '/'. */
export interface FileSystem {
  readFile(path: string): Promise<Uint8Array>;
  /** Creates or replaces the file. */
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  appendFile(path: string, text: string): Promise<void>;
  /** Creates the folder and its parents; an existing folder is fine. */
  mkdir(path: string): Promise<void>;
  /** Removes a file or a folder with everything in it; a missing path is fine. */
  rm(path: string): Promise<void>;
  /** Moves a file or folder (replacing a file at `to`), atomically where the file system can. */
  rename(from: string, to: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** null when nothing is there. */
  stat(path: string): Promise<{ kind: 'file' | 'directory'; size: number } | null>;
  /** `length` bytes at `position` (fewer only at the end of the file). */
  readRange(path: string, position: number, length: number): Promise<Uint8Array>;
}

let installed: FileSystem | null = null;

/** Replaces the file system every by-path reader and writer uses (null: back to node:fs). */
export function setFileSystem(fs: FileSystem | null): void {
  installed = fs;
}

type NodeFs = typeof import('node:fs/promises');

async function nodeFs(): Promise<NodeFs> {
  try {
    return await import('node:fs/promises');
  } catch {
    throw new Error('files by path need Node or Deno (node:fs/promises), or a file system installed with setFileSystem; in a browser, pass or take the bytes instead (readers take bytes; writePeft, writeMlx, hfWeights give them)');
  }
}

const bytesOf = (b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** node:fs/promises as a FileSystem. */
export const nodeFileSystem: FileSystem = {
  readFile: async (p) => bytesOf(await (await nodeFs()).readFile(p)),
  writeFile: async (p, d) => (await nodeFs()).writeFile(p, d),
  appendFile: async (p, t) => (await nodeFs()).appendFile(p, t),
  mkdir: async (p) => { await (await nodeFs()).mkdir(p, { recursive: true }); },
  rm: async (p) => (await nodeFs()).rm(p, { recursive: true, force: true }),
  rename: async (a, b) => (await nodeFs()).rename(a, b),
  readdir: async (p) => (await nodeFs()).readdir(p),
  async stat(p) {
    try {
      const st = await (await nodeFs()).stat(p);
      return st.isDirectory() ? { kind: 'directory', size: 0 } : st.isFile() ? { kind: 'file', size: st.size } : null;
    } catch {
      return null;
    }
  },
  async readRange(p, position, length) {
    const handle = await (await nodeFs()).open(p, 'r');
    try {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.subarray(0, done);
    } finally {
      await handle.close();
    }
  },
};

/** The file system in use: the installed one, else node:fs. */
export function fileSystem(): FileSystem {
  return installed ?? nodeFileSystem;
}

export async function readFileBytes(path: string): Promise<Uint8Array> {
  return fileSystem().readFile(path);
}

export async function readTextFile(path: string): Promise<string> {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(await fileSystem().readFile(path));
}

export async function writeFileBytes(path: string, bytes: Uint8Array | string): Promise<void> {
  await fileSystem().writeFile(path, bytes);
}

export async function appendTextFile(path: string, text: string): Promise<void> {
  await fileSystem().appendFile(path, text);
}

export async function makeDir(dir: string): Promise<void> {
  await fileSystem().mkdir(dir);
}

export async function removePath(path: string): Promise<void> {
  await fileSystem().rm(path);
}

export async function renamePath(from: string, to: string): Promise<void> {
  await fileSystem().rename(from, to);
}

export async function listDir(dir: string): Promise<string[]> {
  return fileSystem().readdir(dir);
}

/** A name no other writer picks, for temporary files and folders. */
export function tempSuffix(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Writes dir/name atomically: a temporary file in dir, then rename, so a reader never sees half a file. */
export async function writeFileAtomic(dir: string, name: string, contents: Uint8Array | string): Promise<void> {
  const f = fileSystem();
  const tmp = joinPath(dir, `.${name}.tmp-${tempSuffix()}`);
  try {
    await f.writeFile(tmp, contents);
    await f.rename(tmp, joinPath(dir, name));
  } catch (e) {
    await f.rm(tmp).catch(() => undefined);
    throw e;
  }
}

export async function pathKind(path: string): Promise<'file' | 'directory' | null> {
  return (await fileSystem().stat(path))?.kind ?? null;
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
  const f = fileSystem();
  const st = await f.stat(path);
  if (st?.kind !== 'file') throw new Error(`${path}: ${st ? 'is a folder, not a file' : 'does not exist'}`);
  return {
    path,
    size: st.size,
    async read(position: number, length: number): Promise<Uint8Array> {
      const out = await f.readRange(path, position, length);
      if (out.length < length) throw new Error(`${path}: unexpected end of file at byte ${position + out.length} (wanted ${length} bytes from ${position})`);
      return out;
    },
    close: async () => undefined,
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
