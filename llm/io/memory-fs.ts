// A file system held in memory, for setFileSystem: files are bytes or Blobs (a browser's picked
// File objects, read only when asked, a range at a time), folders are implied by the paths under
// them or made with mkdir. Paths are absolute and use '/'.
import type { FileSystem } from './node-fs.ts';

type Entry = Uint8Array | Blob;

function normalise(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return `/${parts.join('/')}`;
}

export class MemoryFileSystem implements FileSystem {
  private files = new Map<string, Entry>();
  private dirs = new Set<string>(['/']);

  /** Adds (or replaces) a file, making its folders. */
  put(path: string, data: Entry): void {
    const p = normalise(path);
    this.makeParents(p);
    this.files.set(p, data);
  }

  private makeParents(p: string): void {
    for (let i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) this.dirs.add(p.slice(0, i));
  }

  private file(path: string): Entry {
    const f = this.files.get(normalise(path));
    if (f === undefined) throw new Error(`${path}: no such file`);
    return f;
  }

  async readFile(path: string): Promise<Uint8Array> {
    const f = this.file(path);
    return f instanceof Uint8Array ? f.slice() : new Uint8Array(await f.arrayBuffer());
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const p = normalise(path);
    if (!this.dirs.has(p.slice(0, p.lastIndexOf('/')) || '/')) throw new Error(`${path}: the folder does not exist`);
    this.files.set(p, typeof data === 'string' ? new TextEncoder().encode(data) : data.slice());
  }

  async appendFile(path: string, text: string): Promise<void> {
    const p = normalise(path);
    const old = this.files.has(p) ? await this.readFile(p) : new Uint8Array(0);
    const add = new TextEncoder().encode(text);
    const out = new Uint8Array(old.length + add.length);
    out.set(old);
    out.set(add, old.length);
    await this.writeFile(p, out);
  }

  async mkdir(path: string): Promise<void> {
    const p = normalise(path);
    if (this.files.has(p)) throw new Error(`${path}: is a file`);
    this.makeParents(p);
    this.dirs.add(p);
  }

  private under(p: string): (k: string) => boolean {
    return (k) => k === p || k.startsWith(p === '/' ? '/' : `${p}/`);
  }

  async rm(path: string): Promise<void> {
    const inside = this.under(normalise(path));
    for (const k of [...this.files.keys()]) if (inside(k)) this.files.delete(k);
    for (const k of [...this.dirs]) if (inside(k) && k !== '/') this.dirs.delete(k);
  }

  async rename(from: string, to: string): Promise<void> {
    const a = normalise(from), b = normalise(to);
    const inside = this.under(a);
    if (!this.files.has(a) && !this.dirs.has(a)) throw new Error(`${from}: no such file or folder`);
    if (this.dirs.has(b) && [...this.files.keys()].some(this.under(b))) throw new Error(`${to}: folder is not empty`);
    const moved = (k: string) => b + k.slice(a.length);
    for (const [k, v] of [...this.files]) if (inside(k)) { this.files.delete(k); this.files.set(moved(k), v); }
    for (const k of [...this.dirs]) if (inside(k)) { this.dirs.delete(k); this.dirs.add(moved(k)); }
    this.makeParents(b);
  }

  async readdir(path: string): Promise<string[]> {
    const p = normalise(path);
    if (!this.dirs.has(p)) throw new Error(`${path}: no such folder`);
    const prefix = p === '/' ? '/' : `${p}/`;
    const names = new Set<string>();
    for (const k of [...this.files.keys(), ...this.dirs]) {
      if (k.startsWith(prefix) && k !== p) names.add(k.slice(prefix.length).split('/')[0]);
    }
    return [...names].sort();
  }

  async stat(path: string): Promise<{ kind: 'file' | 'directory'; size: number } | null> {
    const p = normalise(path);
    const f = this.files.get(p);
    if (f !== undefined) return { kind: 'file', size: f instanceof Uint8Array ? f.length : f.size };
    return this.dirs.has(p) ? { kind: 'directory', size: 0 } : null;
  }

  async readRange(path: string, position: number, length: number): Promise<Uint8Array> {
    const f = this.file(path);
    if (f instanceof Uint8Array) return f.slice(position, position + length);
    return new Uint8Array(await f.slice(position, position + length).arrayBuffer());
  }
}
