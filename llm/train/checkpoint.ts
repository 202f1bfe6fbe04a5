// Training checkpoints: trainable weights, optimizer state and trainer state (step, data position,
// RNG states) in one folder per step, written to a temporary folder and renamed into place, so a
// killed run never leaves a half-written checkpoint that looks complete.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  await mkdir(dir, { recursive: true });
  const final = join(dir, checkpointName(state.step));
  const tmp = `${final}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  await writeFile(join(tmp, 'weights.safetensors'), writeSafetensors(await toRecords(weights), { metadata: { format: 'pt' } }));
  await writeFile(join(tmp, 'optimizer.safetensors'), writeSafetensors(await toRecords(optimizer)));
  await writeFile(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1));
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  if (keep !== undefined) {
    const done = (await readdir(dir)).filter((n) => CHECKPOINT.test(n)).sort();
    for (const old of done.slice(0, Math.max(0, done.length - keep))) await rm(join(dir, old), { recursive: true, force: true });
  }
  return final;
}

const CHECKPOINT = /^step-\d+$/;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes half-written step-*.tmp-PID folders left by killed runs (their process is gone). */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try { names = await readdir(dir); } catch { return []; }
  const stale = names.filter((n) => {
    const m = /^step-\d+\.tmp-(\d+)$/.exec(n);
    return m && (Number(m[1]) === process.pid || !alive(Number(m[1])));
  });
  for (const n of stale) await rm(join(dir, n), { recursive: true, force: true });
  return stale;
}

/** The newest complete checkpoint folder under dir, or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  let names: string[];
  try { names = await readdir(dir); } catch { return null; }
  const done = names.filter((n) => CHECKPOINT.test(n)).sort();
  return done.length ? join(dir, done[done.length - 1]) : null;
}

export async function loadCheckpoint(path: string, backend: Backend) {
  const read = async (f: string) => {
    const file = join(path, f);
    const r = readSafetensors(new Uint8Array(await readFile(file)), file);
    return new Map([...r.tensors].map(([n, td]) => [n, tensor(td.data, td.shape, { backend })] as [string, Tensor]));
  };
  const state = JSON.parse(await readFile(join(path, 'trainer_state.json'), 'utf8')) as TrainerState;
  return { weights: await read('weights.safetensors'), optimizer: await read('optimizer.safetensors'), state };
}
