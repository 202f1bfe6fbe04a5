// `wgrad serve --api`: the training API (llm/backends/http/server.ts, /api/v1) as one more route
// handler of `wgrad serve`, so `wgrad train --backend http://HOST:PORT` (or the browser app) can
// hand a run to this machine. Jobs live in --jobs-dir; unfinished ones resume when the server starts.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkApiBinding, ConfigError, trainingApi } from '../llm/backends/index.ts';
import { log, UsageError, type Flag } from './args.ts';
import type { RouteHandler } from './server/server.ts';

export const serveApiFlags: Flag[] = [
  { flags: '--api', help: 'also serve the training API (/api/v1: jobs, events, results) for wgrad train --backend http://HOST:PORT' },
  { flags: '--jobs-dir <dir>', help: 'where API jobs and their checkpoints live (default ~/.wgrad/jobs)' },
  { flags: '--token <t>', help: 'API token required on every request (default $WGRAD_API_TOKEN); needed with --host beyond 127.0.0.1' },
  { flags: '--device <d>', help: 'API jobs train on cpu | webgpu | auto (default auto)' },
];

/** The API's route handler when --api is given (none otherwise); refuses a public host without a token. */
export async function apiRoutes(o: Record<string, unknown>): Promise<RouteHandler[]> {
  if (!o.api) return [];
  const token = (o.token as string | undefined) ?? process.env.WGRAD_API_TOKEN;
  const device = (o.device as string | undefined) ?? 'auto';
  if (!['cpu', 'webgpu', 'auto'].includes(device)) throw new UsageError(`--device expects cpu | webgpu | auto, got "${device}"`);
  try { checkApiBinding((o.host as string | undefined) ?? '127.0.0.1', token); } catch (e) { throw e instanceof ConfigError ? new UsageError(e.message) : e; }
  const jobsDir = (o.jobsDir as string | undefined) ?? join(homedir(), '.wgrad', 'jobs');
  const api = trainingApi({ jobsDir, token, device: device as 'cpu' | 'webgpu' | 'auto', log });
  const resumed = await api.resumeJobs();
  log(`wgrad: training API at /api/v1 (jobs in ${jobsDir}${resumed.length ? `; resumed ${resumed.join(', ')}` : ''})`);
  return [(req, res) => api.handle(req, res)];
}
