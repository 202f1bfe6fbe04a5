// The training-backend protocol over HTTP (`wgrad serve --api`): a route handler a node:http server
// mounts, running jobs on the local backend of the machine it serves from.
//   GET  /api/v1/health                   {ok, backend, device, capabilities}
//   POST /api/v1/jobs                     {config, files: {train: {name, base64}, valid?}} → {id, status}
//   GET  /api/v1/jobs                     [{id, status, ...}]
//   GET  /api/v1/jobs/{id}                {id, status, step, totalSteps, error}
//   GET  /api/v1/jobs/{id}/events?from=N  NDJSON, one JobEvent a line, held open until the job ends
//   GET  /api/v1/jobs/{id}/files          result files (relative paths); /files/{path} their bytes
//   POST /api/v1/jobs/{id}/cancel
// Jobs live in jobsDir/{id}/ (data/, out/ with job.json and checkpoints, events.jsonl), so a restarted
// server resumes unfinished jobs from their checkpoints (resumeJobs). A token (Bearer) is required
// when one is configured; serveTrainingApi refuses to bind beyond loopback without one.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { basename, join, normalize, relative, sep } from 'node:path';
import type { Backend } from '../../../engine/index.ts';
import { readJobRecord } from '../job-file.ts';
import { createLocalBackend, LOCAL_CAPABILITIES } from '../local.ts';
import { ConfigError, TERMINAL, type JobEvent, type JobStatus, type RunConfig, type TrainingBackend } from '../protocol.ts';

export interface TrainingApiOptions {
  jobsDir: string;
  /** Required on every request when set (Authorization: Bearer TOKEN). */
  token?: string;
  device?: 'cpu' | 'webgpu' | 'auto';
  /** Train on this compute backend (tests); default one per job from `device`. */
  compute?: Backend;
  log?: (s: string) => void;
}

interface LiveJob { id: string; status: JobStatus; step: number; totalSteps: number | null; error: string | null; events: JobEvent[]; listeners: Set<(e: JobEvent) => void>; cancel: () => Promise<void> }

const PREFIX = '/api/v1';
export const MAX_UPLOAD_BYTES = 512 * 2 ** 20;

export interface TrainingApi {
  /** Handles the request if it is an API route (returns false otherwise, for the next handler). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Resumes every job whose job.json is not finished (after a restart). */
  resumeJobs(): Promise<string[]>;
  /** Settles when the running jobs have ended (they are cancelled first when `cancel`). */
  drain(cancel?: boolean): Promise<void>;
}

export function trainingApi(o: TrainingApiOptions): TrainingApi {
  const local: TrainingBackend = createLocalBackend({ device: o.device, compute: o.compute });
  const jobs = new Map<string, LiveJob>();
  const running = new Set<Promise<unknown>>();
  const log = o.log ?? (() => {});

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, message: string) => json(res, status, { error: { message } });

  function track(id: string, job: { done: Promise<unknown>; cancel: () => Promise<void> }, live: LiveJob) {
    live.cancel = job.cancel;
    const p = job.done.then(
      () => undefined,
      (e: Error) => emit(live, { type: 'status', status: 'failed', message: e.message }),
    ).finally(() => running.delete(p));
    running.add(p);
    jobs.set(id, live);
  }

  function emit(live: LiveJob, e: JobEvent) {
    if (e.type === 'status') {
      live.status = e.status;
      if (e.status === 'failed') live.error = e.message ?? 'failed';
    }
    if (e.type === 'progress') { live.step = e.step; live.totalSteps = e.totalSteps ?? null; }
    live.events.push(e);
    // Synchronous, so the log is exact up to a crash: a client re-attaching after a restart asks from its count.
    appendFileSync(join(o.jobsDir, live.id, 'events.jsonl'), JSON.stringify(e) + '\n');
    for (const l of live.listeners) l(e);
  }

  const newLive = (id: string, events: JobEvent[] = []): LiveJob => ({ id, status: 'queued', step: 0, totalSteps: null, error: null, events, listeners: new Set(), cancel: async () => {} });

  async function create(req: IncomingMessage, res: ServerResponse) {
    const body = await readJson(req);
    const config = body.config as RunConfig | undefined;
    const files = body.files as Record<string, { name: string; base64: string }> | undefined;
    if (!config || typeof config !== 'object' || typeof config.model !== 'string' || typeof config.method !== 'string') return fail(res, 400, 'body.config: expected a run config {method, model, options}');
    if (!files?.train?.base64 || !files.train.name) return fail(res, 400, 'body.files.train: expected {name, base64} of the training data');
    const id = `job-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const dir = join(o.jobsDir, id);
    await mkdir(join(dir, 'data'), { recursive: true });
    const put = async (f: { name: string; base64: string }) => {
      const path = join(dir, 'data', basename(f.name));
      await writeFile(path, Buffer.from(f.base64, 'base64'));
      return path;
    };
    const run: RunConfig = { ...config, data: await put(files.train), outputDir: join(dir, 'out'), options: { ...config.options } };
    if (files.valid) run.options.valid = await put(files.valid);
    const live = newLive(id);
    try {
      const job = await local.start(run, { onEvent: (e) => emit(live, e) });
      track(id, job, live);
    } catch (e) {
      return fail(res, e instanceof ConfigError || (e as Error).name === 'DataError' ? 400 : 500, (e as Error).message);
    }
    log(`api: job ${id} started (${run.method} on ${run.model})`);
    json(res, 201, { id, status: live.status });
  }

  function events(req: IncomingMessage, res: ServerResponse, live: LiveJob, from: number) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const write = (e: JobEvent) => res.write(JSON.stringify(e) + '\n');
    const ended = () => TERMINAL.includes(live.status);
    for (const e of live.events.slice(from)) write(e);
    if (ended()) return res.end();
    const l = (e: JobEvent) => { write(e); if (ended()) { live.listeners.delete(l); res.end(); } };
    live.listeners.add(l);
    req.on('close', () => live.listeners.delete(l));
  }

  async function resultFiles(id: string): Promise<string[]> {
    const out = join(o.jobsDir, id, 'out');
    const walk = async (d: string): Promise<string[]> => (await Promise.all((await readdir(d, { withFileTypes: true })).map((e) =>
      e.isDirectory() ? (e.name === 'checkpoints' ? [] : walk(join(d, e.name))) : [relative(out, join(d, e.name))]))).flat();
    return existsSync(out) ? (await walk(out)).sort() : [];
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string, url: URL) {
    const method = req.method ?? 'GET';
    if (path === '/health' && method === 'GET') return json(res, 200, { ok: true, backend: 'local', device: o.device ?? 'auto', jobs: jobs.size, capabilities: LOCAL_CAPABILITIES });
    if (path === '/jobs' && method === 'POST') return create(req, res);
    if (path === '/jobs' && method === 'GET') return json(res, 200, [...jobs.values()].map(view));
    const m = /^\/jobs\/([\w-]+)(\/.*)?$/.exec(path);
    if (!m) return fail(res, 404, `no route ${method} ${PREFIX}${path}`);
    const live = jobs.get(m[1]);
    if (!live) return fail(res, 404, `no job ${m[1]}`);
    const sub = m[2] ?? '';
    if (sub === '' && method === 'GET') return json(res, 200, view(live));
    if (sub === '/events' && method === 'GET') return events(req, res, live, Math.max(0, Number(url.searchParams.get('from') ?? 0) | 0));
    if (sub === '/cancel' && method === 'POST') { await live.cancel(); return json(res, 202, view(live)); }
    if (sub === '/files' && method === 'GET') return json(res, 200, await resultFiles(live.id));
    if (sub.startsWith('/files/') && method === 'GET') {
      const rel = normalize(decodeURIComponent(sub.slice('/files/'.length)));
      if (rel.startsWith('..') || rel.startsWith(sep) || !(await resultFiles(live.id)).includes(rel)) return fail(res, 404, `no result file ${rel}`);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(await readFile(join(o.jobsDir, live.id, 'out', rel)));
    }
    return fail(res, 404, `no route ${method} ${PREFIX}${path}`);
  }

  return {
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!url.pathname.startsWith(PREFIX + '/')) return false;
      if (o.token && req.headers.authorization !== `Bearer ${o.token}`) { fail(res, 401, 'missing or wrong token (Authorization: Bearer TOKEN)'); return true; }
      try {
        await route(req, res, url.pathname.slice(PREFIX.length), url);
      } catch (e) {
        if (!res.headersSent) fail(res, (e as { status?: number }).status ?? 500, (e as Error).message);
        else res.end();
      }
      return true;
    },

    async resumeJobs() {
      if (!existsSync(o.jobsDir)) return [];
      const resumed: string[] = [];
      for (const id of await readdir(o.jobsDir)) {
        const out = join(o.jobsDir, id, 'out');
        if (jobs.has(id) || !existsSync(join(out, 'job.json'))) continue;
        const rec = await readJobRecord(out);
        const prior = existsSync(join(o.jobsDir, id, 'events.jsonl'))
          ? (await readFile(join(o.jobsDir, id, 'events.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as JobEvent)
          : [];
        const live = newLive(id, prior);
        live.status = rec.status;
        if (TERMINAL.includes(rec.status)) { jobs.set(id, live); continue; }
        emit(live, { type: 'log', level: 'info', message: 'server restarted: resuming from the newest checkpoint' });
        track(id, await local.resume(out, { onEvent: (e) => emit(live, e) }), live);
        resumed.push(id);
        log(`api: job ${id} resumed`);
      }
      return resumed;
    },

    async drain(cancel = false) {
      if (cancel) for (const j of jobs.values()) await j.cancel();
      await Promise.all([...running]);
    },
  };
}

const view = (j: LiveJob) => ({ id: j.id, status: j.status, step: j.step, totalSteps: j.totalSteps, error: j.error });

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_UPLOAD_BYTES) throw Object.assign(new Error(`request body over ${MAX_UPLOAD_BYTES} bytes`), { status: 413 });
    chunks.push(c as Buffer);
  }
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>; } catch (e) { throw Object.assign(new Error(`body: not valid JSON (${(e as Error).message})`), { status: 400 }); }
}

const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];

/** Refuses to expose the API beyond loopback without a token. */
export function checkApiBinding(host: string, token: string | undefined): void {
  if (!LOOPBACK.includes(host) && !token) throw new ConfigError(`serve --api: binding to ${host} exposes training to the network; set a token (--token or WGRAD_API_TOKEN)`);
}

/** A node:http server with just the API (wgrad serve mounts trainingApi's handler next to its own). */
export async function serveTrainingApi(o: TrainingApiOptions & { host?: string; port?: number }): Promise<{ server: Server; api: TrainingApi; url: string }> {
  const host = o.host ?? '127.0.0.1';
  checkApiBinding(host, o.token);
  const api = trainingApi(o);
  const server = createServer((req, res) => {
    void api.handle(req, res).then((handled) => { if (!handled) { res.writeHead(404, { 'content-type': 'application/json' }); res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } })); } });
  });
  await new Promise<void>((r, j) => { server.once('error', j); server.listen(o.port ?? 0, host, r); });
  const addr = server.address() as { port: number };
  await api.resumeJobs();
  return { server, api, url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}` };
}
