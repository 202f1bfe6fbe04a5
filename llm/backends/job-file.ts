// outputDir/job.json: which backend ran the job, the provider's job and file ids and the run config,
// written before the job is waited on, so `--resume` re-attaches to the job (and pays once) after a
// crash. It never holds an API key: only ids, names and settings.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/node-fs.ts';
import { ConfigError, type JobStatus, type RunConfig } from './protocol.ts';

export const JOB_FILE = 'job.json';

export interface JobRecord {
  backend: string;
  /** The provider's (or server's) job id; for local runs, the output folder's name. */
  jobId: string;
  /** Uploaded file ids by role (training, validation). */
  fileIds: Record<string, string>;
  /** Where the provider lives when it is not its default (a base URL; never a key). */
  baseUrl: string | null;
  config: RunConfig;
  status: JobStatus;
  /** Hosted model id once the provider has one (OpenAI's fine_tuned_model). */
  resultModel: string | null;
  createdAt: string;
  updatedAt: string;
}

export async function writeJobRecord(dir: string, rec: JobRecord): Promise<void> {
  await writeFileAtomic(dir, JOB_FILE, JSON.stringify({ ...rec, updatedAt: new Date().toISOString() }, null, 2) + '\n');
}

export async function readJobRecord(dir: string): Promise<JobRecord> {
  const path = `${dir}/${JOB_FILE}`;
  let text: string;
  try { text = await readFile(path, 'utf8'); } catch { throw new ConfigError(`--resume: ${path} does not exist (no job was started in ${dir})`); }
  let rec: JobRecord;
  try { rec = JSON.parse(text) as JobRecord; } catch (e) { throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`); }
  for (const k of ['backend', 'jobId', 'config'] as const) if (!rec[k]) throw new ConfigError(`${path}: missing field "${k}"`);
  return rec;
}
