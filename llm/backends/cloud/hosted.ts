// The part every hosted fine-tuning backend shares: check the config and the data before any upload,
// convert and upload the data, ask before spending, create the job and record it in job.json at
// once (so --resume re-attaches instead of paying twice), poll with backoff while reporting the
// provider's events, then write metrics.jsonl and the results. A provider supplies the calls.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAgainstCapabilities } from '../capabilities.ts';
import { checkRunData, type CheckedData } from '../data-check.ts';
import { JOB_FILE, readJobRecord, writeJobRecord, type JobRecord } from '../job-file.ts';
import {
  ConfigError, TERMINAL, type Capabilities, type Job, type JobEvent, type JobInfo, type JobResult, type JobStatus,
  type RunConfig, type StartOptions, type TrainingBackend, type Validated,
} from '../protocol.ts';
import { writeMetrics } from './metrics.ts';
import { writeProviderFiles } from './convert.ts';

export interface PolledJob { status: JobStatus; providerStatus: string; resultModel: string | null; message?: string; step?: number; totalSteps?: number }

/** What a provider implements; hosted.ts does the rest. */
export interface Provider {
  name: string;
  keyVar: string;
  /** Bare {"text"} rows are accepted (Together) or refused (OpenAI). */
  textRows: boolean;
  /** Provider-specific checks of option values (loss types, LoRA details, ...). Throws ConfigError. */
  checkOptions(config: RunConfig): void;
  /** For methods whose rows data-check.ts does not cover (OpenAI reinforcement): check and copy the file. */
  passThroughData?(config: RunConfig, dir: string): Promise<{ train: string; valid: string | null; summary: string }>;
  upload(path: string): Promise<string>;
  estimate?(config: RunConfig, files: Record<string, string>): Promise<string | null>;
  create(config: RunConfig, files: Record<string, string>): Promise<string>;
  poll(id: string): Promise<PolledJob>;
  /** Events not yet in `seen` (ids), oldest first; adds their ids to `seen`. */
  newEvents(id: string, seen: Set<string>): Promise<JobEvent[]>;
  /** The job's metrics under local names, in step order. */
  metrics(id: string): Promise<Record<string, number>[]>;
  /** Writes the results into outputDir; returns the files written (relative). */
  fetchResults(id: string, rec: JobRecord, outputDir: string): Promise<string[]>;
  cancel(id: string): Promise<void>;
  pause?(id: string): Promise<void>;
  unpause?(id: string): Promise<void>;
  list(): Promise<JobInfo[]>;
  info(id: string): Promise<JobInfo>;
}

export interface HostedOptions { pollMs?: number; baseUrl: string | null; maxPollMs?: number }

export function hostedBackend(p: Provider, description: string, capabilities: Capabilities, unavailable: () => Promise<string | null>, o: HostedOptions): TrainingBackend {
  const pollMs = o.pollMs ?? 10_000;
  const maxPollMs = o.maxPollMs ?? Math.max(pollMs, 60_000);

  async function prepare(config: RunConfig): Promise<{ data: CheckedData | null; summary: string; rows: number }> {
    checkAgainstCapabilities({ name: p.name, capabilities }, config);
    p.checkOptions(config);
    const data = await checkRunData(config);
    if (data) return { data, summary: data.summary, rows: data.train.rows.length };
    if (!p.passThroughData) throw new ConfigError(`${p.name}: no data conversion for --method ${config.method}`);
    return { data: null, summary: '', rows: 0 };
  }

  async function filesFor(config: RunConfig, data: CheckedData | null): Promise<{ train: string; valid: string | null }> {
    if (data) return writeProviderFiles(data, config.outputDir, p.name, p.textRows);
    return p.passThroughData!(config, join(config.outputDir, 'provider-data'));
  }

  /** Polls until the job ends, reporting events; then metrics and results. */
  function follow(rec: JobRecord, outputDir: string, onEvent: (e: JobEvent) => void, signal?: AbortSignal): Promise<JobResult> {
    const seen = new Set<string>();
    let last: JobStatus | null = null;
    return (async () => {
      let wait = pollMs;
      for (;;) {
        signal?.throwIfAborted();
        const polled = await p.poll(rec.jobId);
        for (const e of await p.newEvents(rec.jobId, seen)) onEvent(e);
        if (polled.status !== last) {
          onEvent({ type: 'status', status: polled.status, message: polled.providerStatus });
          last = polled.status;
          rec.status = polled.status;
          rec.resultModel = polled.resultModel;
          await writeJobRecord(outputDir, rec);
          wait = pollMs; // something changed: look again soon
        } else wait = Math.min(wait * 1.5, maxPollMs);
        if (polled.step !== undefined) onEvent({ type: 'progress', step: polled.step, totalSteps: polled.totalSteps });
        if (TERMINAL.includes(polled.status)) {
          const files: string[] = [];
          const metrics = await p.metrics(rec.jobId);
          for (const m of metrics) onEvent({ type: 'metrics', record: m });
          await writeMetrics(outputDir, metrics);
          if (metrics.length) files.push('metrics.jsonl');
          if (polled.status === 'succeeded') files.push(...(await p.fetchResults(rec.jobId, rec, outputDir)));
          files.push(JOB_FILE);
          return { status: polled.status, outputDir, files, modelId: polled.resultModel, ...(polled.status === 'failed' ? { error: polled.message ?? polled.providerStatus } : {}) };
        }
        await sleep(wait, signal);
      }
    })();
  }

  const job = (rec: JobRecord, outputDir: string, opts: StartOptions): Job => ({
    backend: p.name, id: rec.jobId,
    done: follow(rec, outputDir, opts.onEvent ?? (() => {}), opts.signal),
    cancel: () => p.cancel(rec.jobId),
  });

  return {
    name: p.name,
    description,
    capabilities,
    unavailable,

    async validate(config: RunConfig): Promise<Validated> {
      const { summary, rows } = await prepare(config);
      return { summary, rows };
    },

    async start(config: RunConfig, opts: StartOptions = {}): Promise<Job> {
      const why = await unavailable();
      if (why) throw new ConfigError(why);
      if (existsSync(join(config.outputDir, JOB_FILE))) {
        const prev = await readJobRecord(config.outputDir);
        throw new ConfigError(`${join(config.outputDir, JOB_FILE)} records ${prev.backend} job ${prev.jobId} (${prev.status}); pass --resume to re-attach to it, or choose another --output-dir`);
      }
      const { data, summary } = await prepare(config);
      await mkdir(config.outputDir, { recursive: true });
      const paths = await filesFor(config, data);
      opts.onEvent?.({ type: 'log', level: 'info', message: `${p.name}: data ${summary || 'checked'}; uploading` });
      const files: Record<string, string> = { training: await p.upload(paths.train) };
      if (paths.valid) files.validation = await p.upload(paths.valid);
      if (!opts.yes) {
        const estimate = p.estimate ? await p.estimate(config, files) : null;
        const text = estimate ?? `${p.name} bills this job by its training tokens (no price estimate available)`;
        if (!opts.confirmSpend || !(await opts.confirmSpend(text))) {
          throw new ConfigError(`${p.name}: stopped before creating the job (${text}); pass --yes to accept the cost`);
        }
      }
      const jobId = await p.create(config, files);
      const now = new Date().toISOString();
      const rec: JobRecord = { backend: p.name, jobId, fileIds: files, baseUrl: o.baseUrl, config, status: 'queued', resultModel: null, createdAt: now, updatedAt: now };
      await writeJobRecord(config.outputDir, rec);
      opts.onEvent?.({ type: 'log', level: 'info', message: `${p.name}: created job ${jobId} (recorded in ${join(config.outputDir, JOB_FILE)})` });
      return job(rec, config.outputDir, opts);
    },

    async resume(outputDir: string, opts: StartOptions = {}): Promise<Job> {
      const rec = await readJobRecord(outputDir);
      if (rec.backend !== p.name) throw new ConfigError(`${join(outputDir, JOB_FILE)} records a ${rec.backend} job, not ${p.name}; resume it with --backend ${rec.backend}`);
      opts.onEvent?.({ type: 'log', level: 'info', message: `${p.name}: re-attaching to job ${rec.jobId}` });
      return job(rec, outputDir, opts);
    },

    jobs: {
      list: () => p.list(),
      status: (id) => p.info(id),
      events: async (id) => p.newEvents(id, new Set()),
      cancel: async (id) => { await p.cancel(id); return p.info(id); },
      ...(p.pause ? { pause: async (id: string) => { await p.pause!(id); return p.info(id); } } : {}),
      ...(p.unpause ? { unpause: async (id: string) => { await p.unpause!(id); return p.info(id); } } : {}),
      estimate: async (config) => {
        const { data } = await prepare(config);
        await mkdir(config.outputDir, { recursive: true });
        const paths = await filesFor(config, data);
        const files: Record<string, string> = { training: await p.upload(paths.train) };
        if (paths.valid) files.validation = await p.upload(paths.valid);
        return (p.estimate && (await p.estimate(config, files))) ?? `${p.name} has no price-estimate endpoint`;
      },
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });
}
