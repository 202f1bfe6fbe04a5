// Training checkpoints: trainable weights, optimizer state and trainer state (step, data position,
// RNG states) in one folder per step, written to a temporary folder and renamed into place, so a
// killed run never leaves a half-written checkpoint that looks complete.
import { joinPath as join, listDir, makeDir, readFileBytes, readTextFile, removePath, renamePath, tempSuffix, writeFileBytes } from '../io/node-fs.ts';
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

export async function saveCheckpoint(dir: string, weights: [string, Tensor][], optimizer: [string, Tensor][], state: TrainerState): Promise<string> {
  await makeDir(dir);
  const final = join(dir, checkpointName(state.step));
  const tmp = `${final}.tmp-${tempSuffix()}`;
  await makeDir(tmp);
  await writeFileBytes(join(tmp, 'weights.safetensors'), writeSafetensors(await toRecords(weights), { metadata: { format: 'pt' } }));
  await writeFileBytes(join(tmp, 'optimizer.safetensors'), writeSafetensors(await toRecords(optimizer)));
  await writeFileBytes(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1));
  await removePath(final);
  await renamePath(tmp, final);
  return final;
}

/** The newest complete checkpoint folder under dir, or null. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  let names: string[];
  try { names = await listDir(dir); } catch { return null; }
  const done = names.filter((n) => /^step-\d+$/.test(n)).sort();
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
