// Training checkpoints: trainable weights, optimizer state and trainer state (step, data position,
// RNG states) in one folder per step, written to a temporary folder and renamed into place, so a
// killed run never leaves a half-written checkpoint that looks complete.
import { joinPath as join, listDir, makeDir, pathKind, readFileBytes, readTextFile, removePath, renamePath, writeFileBytes } from '../io/node-fs.ts';
import type { Backend } from '../../engine/index.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { writeSafetensors } from '../io/safetensors-writer.ts';
import { tensor } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

export interface TrainerState {
  step: number;
  data: unknown;
  rng: Record<string, number[]>;
  [k: string]: unknown;
}

async function toRecords(entries: [string, Tensor][]) {
  return Promise.all(entries.map(async ([name, t]) => ({ name, shape: [...t.shape], data: Float32Array.from(await t.data()) })));
}

export function checkpointName(step: number): string {
  return `step-${String(step).padStart(7, '0')}`;
}

/**
 * Writes step-NNNNNNN/ atomically; with `keep`, then removes all but the newest `keep` checkpoints
 * (TRL's save_total_limit).
 */
export async function saveCheckpoint(dir: string, weights: [string, Tensor][], optimizer: [string, Tensor][], state: TrainerState, keep?: number): Promise<string> {
  await makeDir(dir);
  const final = join(dir, checkpointName(state.step));
  const tmp = `${final}.tmp-${writerId()}`;
  await removePath(tmp);
  await makeDir(tmp);
  await writeFileBytes(join(tmp, 'weights.safetensors'), writeSafetensors(await toRecords(weights), { metadata: { format: 'pt' } }));
  await writeFileBytes(join(tmp, 'optimizer.safetensors'), writeSafetensors(await toRecords(optimizer)));
  await writeFileBytes(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1));
  await removePath(final);
  await renamePath(tmp, final);
  if (keep !== undefined) {
    const done = (await listDir(dir)).filter((n) => CHECKPOINT.test(n)).sort();
    for (const old of done.slice(0, Math.max(0, done.length - keep))) await removePath(join(dir, old));
  }
  return final;
}

const CHECKPOINT = /^step-\d+$/;

type Proc = { pid?: number; kill?: (pid: number, signal: number) => void };
const proc = (globalThis as { process?: Proc }).process;

/** The writer of a temporary folder: this process (Node, Deno), or a number per page (browser). */
const pageId = 1 + Math.floor(Math.random() * 2 ** 31);
function writerId(): number {
  return proc?.pid ?? pageId;
}

/** Whether a process is still running; a browser cannot tell, so its temporaries count as stale. */
const alive = (pid: number) => {
  try {
    if (!proc?.kill) return false;
    proc.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes half-written step-*.tmp-PID folders left by killed runs (their process is gone). */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try { names = await listDir(dir); } catch { return []; }
  const stale = names.filter((n) => {
    const m = /^step-\d+\.tmp-(\d+)$/.exec(n);
    return m && (Number(m[1]) === writerId() || !alive(Number(m[1])));
  });
  for (const n of stale) await removePath(join(dir, n));
  return stale;
}

/** The newest complete checkpoint folder under dir, or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  let names: string[];
  try { names = await listDir(dir); } catch { return null; }
  const done = names.filter((n) => CHECKPOINT.test(n)).sort().reverse();
  // A file system without atomic folder renames (the browser's OPFS moves a folder file by file)
  // can show a checkpoint's name before all its files: only a folder holding them all counts.
  for (const n of done) {
    const files = await Promise.all(CHECKPOINT_FILES.map((f) => pathKind(join(join(dir, n), f))));
    if (files.every((k) => k === 'file')) return join(dir, n);
  }
  return null;
}

const CHECKPOINT_FILES = ['weights.safetensors', 'optimizer.safetensors', 'trainer_state.json'];

/** The newest complete checkpoint of a step before `step`, or null. */
export async function checkpointBefore(dir: string, step: number): Promise<string | null> {
  let names: string[];
  try { names = await listDir(dir); } catch { return null; }
  const done = names.filter((n) => CHECKPOINT.test(n) && Number(n.slice(5)) < step).sort();
  return done.length ? join(dir, done[done.length - 1]) : null;
}

export async function loadCheckpoint(path: string, backend: Backend) {
  const read = async (f: string) => {
    const file = join(path, f);
    const r = readSafetensors(await readFileBytes(file), file);
    return new Map([...r.tensors].map(([n, td]) => [n, tensor(td.data, td.shape, { backend })] as [string, Tensor]));
  };
  const state = JSON.parse(await readTextFile(join(path, 'trainer_state.json'))) as TrainerState;
  return { weights: await read('weights.safetensors'), optimizer: await read('optimizer.safetensors'), state };
}

/** The step of the newest complete checkpoint under dir (0 when there is none). */
export async function latestCheckpointStep(dir: string): Promise<number> {
  const latest = await latestCheckpoint(dir);
  return latest ? Number(/step-(\d+)$/.exec(latest)![1]) : 0;
}
