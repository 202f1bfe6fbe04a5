// `--backend http://HOST:PORT`: a run handed to a wgrad server (`wgrad serve --api`, server.ts). The
// data is checked here with the local parsers, sent with the config, trained there on the local
// backend, followed through the event stream, and the results (metrics.jsonl, adapter/,
// adapter-mlx/ or model/) downloaded into the output folder; job.json records the server's job id,
// so --resume re-attaches (following from the first event again) after a crash here.
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { checkAgainstCapabilities } from '../capabilities.ts';
import { checkRunData } from '../data-check.ts';
import { JOB_FILE, readJobRecord, writeJobRecord, type JobRecord } from '../job-file.ts';
import { LOCAL_CAPABILITIES } from '../local.ts';
import { ConfigError, TERMINAL, type Job, type JobEvent, type JobInfo, type JobResult, type JobStatus, type StartOptions, type TrainingBackend } from '../protocol.ts';
import { registerBackend, type BackendOptions } from '../registry.ts';

export function createHttpBackend(opts: BackendOptions = {}): TrainingBackend {
  if (!opts.baseUrl) throw new ConfigError('the http backend needs a server URL (--backend http://HOST:PORT)');
  const base = opts.baseUrl.replace(/\/+$/, '');
  const token = opts.token ?? (opts.env ?? process.env).WGRAD_API_TOKEN;
  const headers = (extra: Record<string, string> = {}) => ({ ...extra, ...(token ? { authorization: `Bearer ${token}` } : {}) });

  async function call(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1${path}`, { ...init, headers: headers(init.headers as Record<string, string>) });
    } catch (e) {
      throw new Error(`${base}: no wgrad server answers (${(e as Error).cause ?? (e as Error).message}); start one with \`wgrad serve --api\``);
    }
    if (!res.ok) {
      const msg = ((await res.json().catch(() => null)) as { error?: { message?: string } } | null)?.error?.message ?? res.statusText;
      throw (res.status === 400 ? new ConfigError(`${base}: ${msg}`) : new Error(`${base}: HTTP ${res.status}: ${msg}`));
    }
    return res;
  }

  /** Follows the NDJSON event stream until the job ends; reconnects if the connection drops. */
  async function follow(id: string, onEvent: (e: JobEvent) => void, signal?: AbortSignal): Promise<JobStatus> {
    let seen = 0;
    let status: JobStatus = 'queued';
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await call(`/jobs/${id}/events?from=${seen}`, { signal });
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const e = JSON.parse(buf.slice(0, nl)) as JobEvent;
            buf = buf.slice(nl + 1);
            seen++;
            if (e.type === 'status') status = e.status;
            onEvent(e);
          }
        }
        if (TERMINAL.includes(status)) return status;
        const now = (await (await call(`/jobs/${id}`)).json()) as { status: JobStatus };
        if (TERMINAL.includes(now.status)) return now.status;
      } catch (e) {
        if (signal?.aborted || e instanceof ConfigError || attempt >= 30) throw e;
      }
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5000)));
    }
  }

  async function download(id: string, outputDir: string): Promise<string[]> {
    const files = (await (await call(`/jobs/${id}/files`)).json()) as string[];
    const got: string[] = [];
    for (const f of files) {
      if (f === JOB_FILE) continue; // ours records the server, theirs the server's own paths
      const bytes = new Uint8Array(await (await call(`/jobs/${id}/files/${encodeURIComponent(f)}`)).arrayBuffer());
      await mkdir(dirname(join(outputDir, f)), { recursive: true });
      await writeFile(join(outputDir, f), bytes);
      got.push(f);
    }
    return got;
  }

  function job(rec: JobRecord, outputDir: string, o: StartOptions): Job {
    const done = (async (): Promise<JobResult> => {
      const status = await follow(rec.jobId, o.onEvent ?? (() => {}), o.signal);
      rec.status = status;
      const files = status === 'succeeded' ? await download(rec.jobId, outputDir) : [];
      await writeJobRecord(outputDir, rec);
      const info = (await (await call(`/jobs/${rec.jobId}`)).json()) as { error: string | null };
      return { status, outputDir, files: [...files, JOB_FILE], modelId: null, ...(info.error ? { error: info.error } : {}) };
    })();
    return { backend: 'http', id: rec.jobId, done, cancel: async () => { await call(`/jobs/${rec.jobId}/cancel`, { method: 'POST' }); } };
  }

  const asInfo = (j: { id: string; status: JobStatus }): JobInfo => ({ id: j.id, status: j.status, providerStatus: j.status, model: '', createdAt: '', resultModel: null });

  const backend: TrainingBackend = {
    name: 'http',
    description: `a wgrad server at ${base}`,
    capabilities: LOCAL_CAPABILITIES,

    async unavailable() {
      try { await call('/health'); return null; } catch (e) { return (e as Error).message; }
    },

    async validate(config) {
      checkAgainstCapabilities(backend, config);
      const data = await checkRunData(config);
      return { summary: data?.summary ?? 'data is checked by the server', rows: data?.train.rows.length ?? 0 };
    },

    async start(config, o = {}) {
      if (existsSync(join(config.outputDir, JOB_FILE))) throw new ConfigError(`${join(config.outputDir, JOB_FILE)} exists; pass --resume to re-attach, or choose another --output-dir`);
      await backend.validate(config);
      const file = async (p: string) => {
        if (!(await stat(p)).isFile()) throw new ConfigError(`${p}: the http backend sends data files, not folders; pass the file (and --valid FILE)`);
        return { name: basename(p), base64: (await readFile(p)).toString('base64') };
      };
      const { valid, ...options } = config.options;
      const files = { train: await file(config.data), ...(valid ? { valid: await file(valid) } : {}) };
      const created = (await (await call('/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ config: { ...config, options }, files }) })).json()) as { id: string };
      await mkdir(config.outputDir, { recursive: true });
      const now = new Date().toISOString();
      const rec: JobRecord = { backend: 'http', jobId: created.id, fileIds: {}, baseUrl: base, config, status: 'queued', resultModel: null, createdAt: now, updatedAt: now };
      await writeJobRecord(config.outputDir, rec);
      return job(rec, config.outputDir, o);
    },

    async resume(outputDir, o = {}) {
      const rec = await readJobRecord(outputDir);
      if (rec.backend !== 'http') throw new ConfigError(`${join(outputDir, JOB_FILE)} records a ${rec.backend} job; resume it with --backend ${rec.backend}`);
      if (rec.baseUrl && rec.baseUrl !== base) throw new ConfigError(`${join(outputDir, JOB_FILE)} records a job on ${rec.baseUrl}, not ${base}`);
      return job(rec, outputDir, o);
    },

    jobs: {
      list: async () => ((await (await call('/jobs')).json()) as { id: string; status: JobStatus }[]).map(asInfo),
      status: async (id) => asInfo((await (await call(`/jobs/${id}`)).json()) as { id: string; status: JobStatus }),
      events: async (id) => { const ev: JobEvent[] = []; await follow(id, (e) => ev.push(e)); return ev; },
      cancel: async (id) => asInfo((await (await call(`/jobs/${id}/cancel`, { method: 'POST' })).json()) as { id: string; status: JobStatus }),
    },
  };
  return backend;
}

registerBackend('http', createHttpBackend);
