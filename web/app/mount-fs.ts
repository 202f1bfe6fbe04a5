// The worker's file system: paths under /opfs/ go to the Origin Private File System (runs,
// checkpoints), everything else to memory (the model and data the user picked, as File objects).
import type { FileSystem } from '../../llm/index.ts';

export const OPFS_MOUNT = '/opfs';

export class MountFileSystem implements FileSystem {
  constructor(private readonly memory: FileSystem, private readonly opfs: FileSystem | null) {}

  private route(path: string): [FileSystem, string] {
    if (path === OPFS_MOUNT || path.startsWith(`${OPFS_MOUNT}/`)) {
      if (!this.opfs) throw new Error(`${path}: this browser gives the page no Origin Private File System, so runs cannot be saved`);
      return [this.opfs, path.slice(OPFS_MOUNT.length) || '/'];
    }
    return [this.memory, path];
  }

  private both(a: string, b: string): [FileSystem, string, string] {
    const [fa, pa] = this.route(a), [fb, pb] = this.route(b);
    if (fa !== fb) throw new Error(`cannot move ${a} to ${b}: they are on different file systems`);
    return [fa, pa, pb];
  }

  readFile(p: string) { const [f, q] = this.route(p); return f.readFile(q); }
  writeFile(p: string, d: Uint8Array | string) { const [f, q] = this.route(p); return f.writeFile(q, d); }
  appendFile(p: string, t: string) { const [f, q] = this.route(p); return f.appendFile(q, t); }
  mkdir(p: string) { const [f, q] = this.route(p); return f.mkdir(q); }
  rm(p: string) { const [f, q] = this.route(p); return f.rm(q); }
  rename(a: string, b: string) { const [f, pa, pb] = this.both(a, b); return f.rename(pa, pb); }
  readdir(p: string) { const [f, q] = this.route(p); return f.readdir(q); }
  stat(p: string) { const [f, q] = this.route(p); return f.stat(q); }
  readRange(p: string, pos: number, len: number) { const [f, q] = this.route(p); return f.readRange(q, pos, len); }
}
