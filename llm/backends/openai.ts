// OpenAI's hosted fine-tuning through its official SDK (`openai` 6.x): files (purpose fine-tune),
// fine_tuning.jobs create/retrieve/list/cancel/pause/resume/events and checkpoints, with methods
// `supervised`, `dpo` and `reinforcement` (resources/fine-tuning/methods.ts). The result is a
// hosted model id (fine_tuned_model), written to outputDir/model.json; no weights leave OpenAI.
// OpenAI has closed fine-tuning to organisations that have not used it, and ends it for everyone in
// January 2027: capabilities, doctor and the 403 message say so.
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { FineTuningJob, JobCreateParams } from 'openai/resources/fine-tuning/jobs/jobs';
import { readSplitRecords } from '../data/load.ts';
import { DataError } from '../data/errors.ts';
import { RowError, validateRow } from '../data/formats.ts';
import type { RawRecord } from '../data/records.ts';
import { providerError } from './cloud/errors.ts';
import { hostedBackend, type PolledJob, type Provider } from './cloud/hosted.ts';
import { localMetrics } from './cloud/metrics.ts';
import { ConfigError, type Capabilities, type JobEvent, type JobInfo, type JobStatus, type RunConfig } from './protocol.ts';
import { registerBackend, type BackendOptions } from './registry.ts';

export const OPENAI_ACCESS_NOTE = 'OpenAI fine-tuning is closed to organisations that have not used it before and ends for everyone in January 2027';

const LOCAL_ONLY = 'local only: no hosted provider offers it';
export const OPENAI_CAPABILITIES: Capabilities = {
  methods: {
    sft: { level: 'yes', note: `method "supervised"; ${OPENAI_ACCESS_NOTE}` },
    dpo: { level: 'yes', note: 'method "dpo": β only (sigmoid loss)' },
    reinforcement: { level: 'yes', note: 'method "reinforcement" with a grader (--grader FILE.json); reasoning models only' },
    simpo: { level: 'no', note: 'OpenAI offers DPO only among preference methods' },
    orpo: { level: 'no', note: LOCAL_ONLY },
    cpo: { level: 'no', note: LOCAL_ONLY },
    kto: { level: 'no', note: LOCAL_ONLY },
    grpo: { level: 'no', note: `${LOCAL_ONLY} (OpenAI's reinforcement method is the hosted counterpart)` },
    rlvr: { level: 'no', note: `${LOCAL_ONLY} (OpenAI's reinforcement method with a grader is the hosted counterpart)` },
    abliteration: { level: 'no', note: 'local only: edits weights in place' },
    steering: { level: 'no', note: 'local only: adds vectors at inference' },
  },
  training: [],
  dtypes: ['(provider)'],
  largestModel: "OpenAI's fine-tunable models (gpt-4.1, gpt-4o-mini, o4-mini, ...)",
  dataFormats: ['messages', 'sharegpt', 'prompt-completion', 'alpaca', 'prompt-chosen-rejected', 'chosen-rejected', 'openai-dpo'],
  options: {
    preference: '--beta', valid: '--valid', valFraction: '--val-fraction', batchSize: '--batch-size', seed: '--seed',
    skipInvalid: '--skip-invalid', epochs: '--epochs', suffix: '--suffix', grader: '--grader', lrMultiplier: '--lr-multiplier',
  },
  results: 'a hosted model id (model.json); no weights',
};

function status(s: string): JobStatus {
  switch (s) {
    case 'validating_files': case 'queued': return 'queued';
    case 'running': return 'running';
    case 'paused': return 'paused';
    case 'succeeded': return 'succeeded';
    case 'cancelled': return 'cancelled';
    case 'failed': return 'failed';
  }
  return 'running';
}

function checkOptions(config: RunConfig): void {
  const pref = config.options.preference ?? {};
  for (const [k, v] of Object.entries(pref)) {
    if (v === undefined || k === 'beta') continue;
    if (k === 'lossType' && v === 'sigmoid') continue;
    throw new ConfigError(`openai: the preference option ${k} has no OpenAI equivalent (OpenAI's DPO takes β only); remove it or use --backend local`);
  }
  if (config.method === 'reinforcement' && !config.options.grader) throw new ConfigError('openai: --method reinforcement needs --grader FILE.json (a grader object as OpenAI documents it)');
  if (config.method !== 'reinforcement' && config.options.grader) throw new ConfigError(`openai: --grader applies to --method reinforcement, not ${config.method}`);
}

export function openaiParams(config: RunConfig, files: Record<string, string>): JobCreateParams {
  const o = config.options;
  const hyper: Record<string, number> = {};
  if (o.epochs !== undefined) hyper.n_epochs = o.epochs;
  if (o.batchSize !== undefined) hyper.batch_size = o.batchSize;
  if (o.lrMultiplier !== undefined) hyper.learning_rate_multiplier = o.lrMultiplier;
  const p: JobCreateParams = { model: config.model, training_file: files.training };
  if (files.validation) p.validation_file = files.validation;
  if (o.seed !== undefined) p.seed = o.seed;
  if (o.suffix !== undefined) p.suffix = o.suffix;
  if (config.method === 'sft') p.method = { type: 'supervised', supervised: { hyperparameters: hyper } };
  else if (config.method === 'dpo') {
    const beta = o.preference?.beta;
    p.method = { type: 'dpo', dpo: { hyperparameters: beta === undefined ? hyper : { ...hyper, beta } } };
  } else p.method = { type: 'reinforcement', reinforcement: { grader: o.grader as never, hyperparameters: hyper } };
  return p;
}

/** Reinforcement rows: a chat prompt plus whatever fields the grader reads; checked, then sent unchanged. */
async function reinforcementData(config: RunConfig, dir: string): Promise<{ train: string; valid: string | null; summary: string }> {
  const o = config.options;
  const split = await readSplitRecords(config.data, { valid: o.valid, valFraction: o.valFraction, seed: o.seed });
  const check = (records: RawRecord[]) => records.map((r) => {
    const at = { source: r.source, row: r.row, line: r.line, cite: r.cite };
    if (r.parseError !== undefined) throw new DataError(at, r.parseError);
    try { validateRow(r.value, { format: 'messages' }); } catch (e) { throw e instanceof RowError ? new DataError(at, e.message, e.field) : e; }
    return JSON.stringify(r.value);
  });
  await mkdir(dir, { recursive: true });
  const train = join(dir, 'train.jsonl');
  const trainRows = check(split.train);
  await writeFile(train, trainRows.join('\n') + '\n');
  let valid: string | null = null;
  if (split.val?.length) { valid = join(dir, 'valid.jsonl'); await writeFile(valid, check(split.val).join('\n') + '\n'); }
  return { train, valid, summary: `train: ${trainRows.length} rows with messages` };
}

export function createOpenAIBackend(opts: BackendOptions = {}) {
  const env = opts.env ?? process.env;
  const baseURL = opts.baseUrl ?? env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1';
  let client: OpenAI | null = null;
  const sdk = () => (client ??= new OpenAI({ apiKey: env.OPENAI_API_KEY, baseURL, maxRetries: opts.maxRetries ?? 5, timeout: opts.timeoutMs ?? 60_000 }));
  const call = async <T>(action: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (e) { throw providerError('openai', 'OPENAI_API_KEY', action, e, { 403: `not allowed: ${OPENAI_ACCESS_NOTE}` }); }
  };

  /** Events newest first from the API; returns the unseen ones oldest first. */
  async function unseenEvents(id: string, seen: Set<string>) {
    const fresh = [];
    for await (const e of sdk().fineTuning.jobs.listEvents(id, { limit: 100 })) {
      if (seen.has(e.id)) break;
      fresh.push(e);
    }
    for (const e of fresh) seen.add(e.id);
    return fresh.reverse();
  }

  const provider: Provider = {
    name: 'openai', keyVar: 'OPENAI_API_KEY', textRows: false, checkOptions,
    passThroughData: reinforcementData,

    async upload(path) {
      const f = await call(`upload of ${path}`, () => sdk().files.create({ file: createReadStream(path), purpose: 'fine-tune' }));
      return f.id;
    },

    async create(config, files) {
      return (await call('job creation', () => sdk().fineTuning.jobs.create(openaiParams(config, files)))).id;
    },

    async poll(id): Promise<PolledJob> {
      const j = await call(`status of job ${id}`, () => sdk().fineTuning.jobs.retrieve(id));
      return { status: status(j.status), providerStatus: j.status, resultModel: j.fine_tuned_model, ...(j.error ? { message: `${j.error.code}: ${j.error.message}` } : {}) };
    },

    async newEvents(id, seen) {
      const out: JobEvent[] = [];
      for (const e of await call(`events of job ${id}`, () => unseenEvents(id, seen))) {
        const d = (e.data ?? {}) as Record<string, unknown>;
        if (e.type === 'metrics' && typeof d.step === 'number') out.push({ type: 'progress', step: d.step, totalSteps: typeof d.total_steps === 'number' ? d.total_steps : undefined });
        else out.push({ type: 'log', level: e.level === 'warn' ? 'warning' : e.level, message: e.message });
      }
      return out;
    },

    async metrics(id) {
      const out: Record<string, number>[] = [];
      await call(`events of job ${id}`, async () => {
        for await (const e of sdk().fineTuning.jobs.listEvents(id, { limit: 100 })) {
          if (e.type === 'metrics' && e.data) {
            const { total_steps: _t, ...rest } = e.data as Record<string, unknown>;
            out.push(localMetrics(rest));
          }
        }
      });
      return out.sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
    },

    async fetchResults(id, rec, outputDir) {
      const j = await call(`status of job ${id}`, () => sdk().fineTuning.jobs.retrieve(id));
      const checkpoints: { step: number; model: string; metrics: Record<string, number> }[] = [];
      await call(`checkpoints of job ${id}`, async () => {
        for await (const c of sdk().fineTuning.jobs.checkpoints.list(id)) checkpoints.push({ step: c.step_number, model: c.fine_tuned_model_checkpoint, metrics: localMetrics(c.metrics as Record<string, unknown>) });
      });
      await writeFile(join(outputDir, 'model.json'), JSON.stringify({ provider: 'openai', job: id, base: rec.config.model, model: j.fine_tuned_model, checkpoints }, null, 2) + '\n');
      return ['model.json'];
    },

    async cancel(id) { await call(`cancel of job ${id}`, () => sdk().fineTuning.jobs.cancel(id)); },
    async pause(id) { await call(`pause of job ${id}`, () => sdk().fineTuning.jobs.pause(id)); },
    async unpause(id) { await call(`resume of job ${id}`, () => sdk().fineTuning.jobs.resume(id)); },

    async list(): Promise<JobInfo[]> {
      const out: JobInfo[] = [];
      await call('job list', async () => { for await (const j of sdk().fineTuning.jobs.list({ limit: 50 })) out.push(info(j)); });
      return out;
    },

    async info(id) { return info(await call(`status of job ${id}`, () => sdk().fineTuning.jobs.retrieve(id))); },
  };

  const unavailable = async () => (env.OPENAI_API_KEY ? null : `openai: set OPENAI_API_KEY to your OpenAI API key (${OPENAI_ACCESS_NOTE})`);
  return hostedBackend(provider, `OpenAI fine-tuning (${baseURL}; ${OPENAI_ACCESS_NOTE})`, OPENAI_CAPABILITIES, unavailable, { pollMs: opts.pollMs, baseUrl: opts.baseUrl ?? env.OPENAI_BASE_URL ?? null });
}

function info(j: FineTuningJob): JobInfo {
  return { id: j.id, status: status(j.status), providerStatus: j.status, model: j.model, createdAt: new Date(j.created_at * 1000).toISOString(), resultModel: j.fine_tuned_model };
}

registerBackend('openai', createOpenAIBackend);
