// A run's output folder: one run per folder. A folder holding another run is refused unless the
// caller resumes it (same settings, from its newest checkpoint, with metrics.jsonl cut back to that
// step so no step is logged twice) or overwrites it (the files a run writes are removed first).
// run.json records what made the run: settings, data fingerprint, seed, versions and device.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { latestCheckpoint, removeStaleTemporaries } from './checkpoint.ts';

export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';
/** What a run writes into its folder; --overwrite removes these and nothing else. */
export const RUN_OUTPUTS = [RUN_FILE, METRICS_FILE, 'checkpoints', 'adapter', 'adapter-mlx', 'model'];

export interface RunRecord {
  /** The settings that decide the result, by the names the user gave them (flags). */
  settings: Record<string, unknown>;
  /** sha256 and size of every data file, by path. */
  data: Record<string, { sha256: string; bytes: number }>;
  seed: number;
  versions: Record<string, string>;
  device: string;
  created: string;
  /** Each --resume: when, and from which step. */
  resumed?: { at: string; step: number; checkpoint: string }[];
  [k: string]: unknown;
}

export class RunDirError extends Error {}

export interface PrepareOptions {
  resume?: boolean;
  overwrite?: boolean;
  /** How the two options are spelled where the user gives them (the CLI: '--resume'). */
  names?: { resume: string; overwrite: string };
  /** Settings keys allowed to differ on resume (longer runs, other logging). */
  mayDiffer?: readonly string[];
}

export interface PreparedRun {
  /** The checkpoint to resume from, or null for a fresh run. */
  checkpoint: string | null;
  step: number;
  record: RunRecord;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Fingerprints of data files (folders: every file directly inside). */
export async function fingerprintData(paths: string[]): Promise<RunRecord['data']> {
  const out: RunRecord['data'] = {};
  for (const p of paths) {
    const files = (await stat(p)).isDirectory() ? (await readdir(p)).sort().map((n) => join(p, n)) : [p];
    for (const f of files) {
      const s = await stat(f);
      if (s.isFile()) out[f] = { sha256: await sha256File(f), bytes: s.size };
    }
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Whether dir holds (part of) a run: any of the files a run writes. */
export function holdsRun(dir: string): boolean {
  return RUN_OUTPUTS.some((f) => existsSync(join(dir, f)));
}

/**
 * Decides what happens to `dir` before training: refuse, resume or start over. Checks and removals
 * happen here, before the first step, so a run never mixes with another's files.
 */
/** The refusals prepareRunDir makes, checkable before any expensive work (loading a model). */
export async function checkRunDir(dir: string, o: PrepareOptions = {}): Promise<void> {
  const names = o.names ?? { resume: 'resume', overwrite: 'overwrite' };
  if (o.resume && o.overwrite) throw new RunDirError(`${names.resume} and ${names.overwrite} contradict each other; give one`);
  const ckDir = join(dir, 'checkpoints');
  if (o.resume) {
    if (!(await latestCheckpoint(ckDir))) throw new RunDirError(`${names.resume}: ${dir} has no checkpoint to continue from (${ckDir} is empty or missing)`);
  } else if (!o.overwrite && holdsRun(dir)) {
    const latest = await latestCheckpoint(ckDir);
    throw new RunDirError(`${dir} holds another run (${existsSync(join(dir, RUN_FILE)) ? RUN_FILE : 'its files'}${latest ? `, checkpoint ${latest}` : ''}); ` +
      `pass ${names.resume} to continue it, ${names.overwrite} to replace it, or choose another folder`);
  }
}

/**
 * Decides what happens to `dir` before training: refuse, resume or start over. Checks and removals
 * happen here, before the first step, so a run never mixes with another's files.
 */
export async function prepareRunDir(dir: string, record: RunRecord, o: PrepareOptions = {}): Promise<PreparedRun> {
  const names = o.names ?? { resume: 'resume', overwrite: 'overwrite' };
  await checkRunDir(dir, o);
  await mkdir(dir, { recursive: true });
  const ckDir = join(dir, 'checkpoints');
  if (o.overwrite) for (const f of RUN_OUTPUTS) await rm(join(dir, f), { recursive: true, force: true });
  await removeStaleTemporaries(ckDir);
  if (!o.resume) {
    await writeRunRecord(dir, record);
    return { checkpoint: null, step: 0, record };
  }
  const checkpoint = (await latestCheckpoint(ckDir))!;
  let old: RunRecord;
  try {
    old = JSON.parse(await readFile(join(dir, RUN_FILE), 'utf8')) as RunRecord;
  } catch (e) {
    throw new RunDirError(`${names.resume}: ${join(dir, RUN_FILE)} cannot be read (${(e as Error).message}), so the checkpoint's settings are unknown; use ${names.overwrite} to start over`);
  }
  const mayDiffer = new Set(o.mayDiffer ?? []);
  const keys = [...new Set([...Object.keys(old.settings ?? {}), ...Object.keys(record.settings)])].filter((k) => !mayDiffer.has(k));
  const differ = keys.filter((k) => !same(old.settings?.[k], record.settings[k]));
  if (differ.length) {
    throw new RunDirError(`${names.resume}: the checkpoint in ${dir} was made with other settings: ` +
      differ.map((k) => `${k} ${JSON.stringify(old.settings?.[k] ?? null)} (now ${JSON.stringify(record.settings[k] ?? null)})`).join(', '));
  }
  const changedData = Object.keys({ ...old.data, ...record.data }).filter((f) => !same(old.data?.[f], record.data[f]));
  if (changedData.length) throw new RunDirError(`${names.resume}: the data changed since the checkpoint was made: ${changedData.join(', ')}`);
  const step = (JSON.parse(await readFile(join(checkpoint, 'trainer_state.json'), 'utf8')) as { step: number }).step;
  await truncateMetrics(join(dir, METRICS_FILE), step);
  const merged: RunRecord = { ...old, resumed: [...(old.resumed ?? []), { at: new Date().toISOString(), step, checkpoint }] };
  await writeRunRecord(dir, merged);
  return { checkpoint, step, record: merged };
}

/** Keeps the records of metrics.jsonl up to `step` (train and eval records carry a step). */
export async function truncateMetrics(path: string, step: number): Promise<number> {
  if (!existsSync(path)) return 0;
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim());
  const keep = lines.filter((l) => {
    try {
      return (JSON.parse(l) as { step?: number }).step! <= step;
    } catch {
      return false; // a line cut short by a kill
    }
  });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, keep.map((l) => l + '\n').join(''));
  await rename(tmp, path);
  return lines.length - keep.length;
}

export async function writeRunRecord(dir: string, record: RunRecord): Promise<void> {
  const tmp = join(dir, `${RUN_FILE}.tmp-${process.pid}`);
  await writeFile(tmp, JSON.stringify(record, null, 2) + '\n');
  await rename(tmp, join(dir, RUN_FILE));
}

/** Adds fields (the data summary, how the run ended) to run.json. */
export async function updateRunRecord(dir: string, fields: Record<string, unknown>): Promise<void> {
  const record = JSON.parse(await readFile(join(dir, RUN_FILE), 'utf8')) as RunRecord;
  await writeRunRecord(dir, { ...record, ...fields });
}
