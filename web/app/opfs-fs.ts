// The Origin Private File System as the toolkit's FileSystem (llm/io/node-fs.ts), so checkpoints and
// metrics.jsonl written by the unchanged trainer survive a closed tab. Paths are relative to the
// OPFS root ("/runs/current/checkpoints/step-0000002/weights.safetensors"). OPFS moves files
// atomically (FileSystemFileHandle.move) but not folders, so a folder is renamed file by file: a
// reader may see the new folder before all its files (latestCheckpoint checks for every file).
import type { FileSystem } from '../../llm/index.ts';

type Dir = FileSystemDirectoryHandle;
type Movable = FileSystemHandle & { move?: (parent: Dir, name: string) => Promise<void> };

function parts(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

export class OpfsFileSystem implements FileSystem {
  constructor(private readonly root: Dir) {}

  static async open(): Promise<OpfsFileSystem> {
    if (!navigator.storage?.getDirectory) throw new Error('this browser has no Origin Private File System (navigator.storage.getDirectory)');
    return new OpfsFileSystem(await navigator.storage.getDirectory());
  }

  private async dir(names: string[], create: boolean): Promise<Dir> {
    let d = this.root;
    for (const n of names) d = await d.getDirectoryHandle(n, { create });
    return d;
  }

  /** The parent folder's handle and the last name. */
  private async parent(path: string, create = false): Promise<[Dir, string]> {
    const p = parts(path);
    if (!p.length) throw new Error(`${path}: is the root`);
    return [await this.dir(p.slice(0, -1), create), p[p.length - 1]];
  }

  private async fileHandle(path: string): Promise<FileSystemFileHandle> {
    const [d, name] = await this.parent(path);
    return d.getFileHandle(name);
  }

  async readFile(path: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await (await (await this.fileHandle(path)).getFile()).arrayBuffer());
    } catch (e) {
      throw new Error(`${path}: cannot read (${(e as Error).message})`);
    }
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const [d, name] = await this.parent(path);
    const w = await (await d.getFileHandle(name, { create: true })).createWritable();
    await w.write(typeof data === 'string' ? data : (data as Uint8Array<ArrayBuffer>));
    await w.close();
  }

  async appendFile(path: string, text: string): Promise<void> {
    const [d, name] = await this.parent(path);
    const h = await d.getFileHandle(name, { create: true });
    const w = await h.createWritable({ keepExistingData: true });
    await w.seek((await h.getFile()).size);
    await w.write(text);
    await w.close();
  }

  async mkdir(path: string): Promise<void> {
    await this.dir(parts(path), true);
  }

  async rm(path: string): Promise<void> {
    const p = parts(path);
    if (!p.length) throw new Error('refusing to remove the whole Origin Private File System');
    try {
      const d = await this.dir(p.slice(0, -1), false);
      await d.removeEntry(p[p.length - 1], { recursive: true });
    } catch (e) {
      if ((e as DOMException).name !== 'NotFoundError') throw e;
    }
  }

  private async handle(path: string): Promise<FileSystemHandle> {
    const [d, name] = await this.parent(path);
    try { return await d.getFileHandle(name); } catch { return d.getDirectoryHandle(name); }
  }

  async rename(from: string, to: string): Promise<void> {
    const h = (await this.handle(from)) as Movable;
    const [toDir, toName] = await this.parent(to, true);
    if (h.kind === 'file') {
      await this.rm(to);
      if (h.move) await h.move(toDir, toName);
      else { await this.writeFile(to, await this.readFile(from)); await this.rm(from); }
      return;
    }
    if ((await this.stat(to))?.kind === 'directory' && (await this.readdir(to)).length) throw new Error(`${to}: folder is not empty`);
    await this.mkdir(to);
    for (const n of await this.readdir(from)) await this.rename(`${from}/${n}`, `${to}/${n}`);
    await this.rm(from);
  }

  async readdir(path: string): Promise<string[]> {
    const d = await this.dir(parts(path), false);
    const names: string[] = [];
    for await (const n of (d as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
    return names.sort();
  }

  async stat(path: string): Promise<{ kind: 'file' | 'directory'; size: number } | null> {
    if (!parts(path).length) return { kind: 'directory', size: 0 };
    try {
      const h = await this.handle(path);
      return h.kind === 'file' ? { kind: 'file', size: (await (h as FileSystemFileHandle).getFile()).size } : { kind: 'directory', size: 0 };
    } catch {
      return null;
    }
  }

  async readRange(path: string, position: number, length: number): Promise<Uint8Array> {
    const f = await (await this.fileHandle(path)).getFile();
    return new Uint8Array(await f.slice(position, position + length).arrayBuffer());
  }
}
