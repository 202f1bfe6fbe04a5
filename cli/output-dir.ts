// Output folders checked before any work: a path naming a file, an unwritable or read-only place, a
// full disk, or a kernel pseudo-filesystem (/proc, /sys: writes there hang or mean something else)
// is reported at once with the flag, not after training.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './args.ts';

/** What an fs error code means, for a message that names the path. */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'the filesystem is read-only';
    case 'ENOSPC': return 'no space left on the device';
    case 'EDQUOT': return 'the disk quota is exceeded';
    case 'ENOTDIR': return 'a part of the path is a file, not a folder';
    case 'EEXIST': return 'it exists and is not a folder';
    case 'ENAMETOOLONG': return 'the name is too long';
    default: return (e as Error).message;
  }
}

/** Creates dir (and parents) and proves it writable; throws a UsageError naming the flag. */
export function checkOutputDir(dir: string, flag: string): void {
  const abs = resolve(dir);
  if (/^\/(proc|sys|dev)(\/|$)/.test(abs)) throw new UsageError(`${flag} ${dir} is inside ${abs.split('/')[1] ? '/' + abs.split('/')[1] : abs}, a kernel filesystem, not a place for files`);
  let st;
  try { st = statSync(dir); } catch { st = null; }
  if (st && !st.isDirectory()) throw new UsageError(`${flag} ${dir} is a file; expected a folder (or a path where one can be made)`);
  const probe = join(dir, `.wgrad-write-test-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, 'x');
    rmSync(probe, { force: true });
  } catch (e) {
    throw new UsageError(`${flag} ${dir} cannot be written: ${fsReason(e)}`);
  }
}
