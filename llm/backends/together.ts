// Together's hosted fine-tuning through its official SDK (`together-ai`): files (purpose fine-tune),
// /fine-tunes create/retrieve/events/metrics/checkpoints/cancel/estimate-price, and the adapter from
// /finetune/download. Field names as in the SDK's resources/fine-tuning.ts (FineTuningCreateParams).
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import Together from 'together-ai';
import type { FineTuningCreateParams, FinetuneResponse } from 'together-ai/resources/fine-tuning';
import { decompress, writeDownloadedAdapter, untar } from './cloud/archive.ts';
import { fetchWithRetry, providerError } from './cloud/errors.ts';
import { hostedBackend, type PolledJob, type Provider } from './cloud/hosted.ts';
import { localMetrics } from './cloud/metrics.ts';
import type { JobRecord } from './job-file.ts';
import { ConfigError, type Capabilities, type JobEvent, type JobInfo, type JobStatus, type RunConfig } from './protocol.ts';
import { registerBackend, type BackendOptions } from './registry.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const LOCAL_ONLY = 'local only: no hosted provider offers it';
export const TOGETHER_CAPABILITIES: Capabilities = {
  methods: {
    sft: { level: 'yes' },
    dpo: { level: 'yes', note: 'sigmoid loss only; β, rpo_alpha, length-normalised log-ratios' },
    simpo: { level: 'partial', note: "Together's DPO with dpo_reference_free, length-normalised log-ratios and simpo_gamma" },
    orpo: { level: 'no', note: LOCAL_ONLY },
    cpo: { level: 'no', note: LOCAL_ONLY },
    kto: { level: 'no', note: LOCAL_ONLY },
    reinforcement: { level: 'no', note: 'Together has no grader-based fine-tuning' },
    grpo: { level: 'no', note: LOCAL_ONLY },
    rlvr: { level: 'no', note: LOCAL_ONLY },
    abliteration: { level: 'no', note: 'local only: edits weights in place' },
    steering: { level: 'no', note: 'local only: adds vectors at inference' },
  },
  training: ['lora', 'full'],
  dtypes: ['bf16 (provider)'],
  largestModel: "the provider's fine-tuning list (up to 405B with LoRA)",
  dataFormats: ['messages', 'sharegpt', 'prompt-completion', 'alpaca', 'text', 'prompt-chosen-rejected', 'chosen-rejected', 'openai-dpo'],
  options: {
    preference: '--beta/--rpo-alpha/--simpo-gamma', valid: '--valid', valFraction: '--val-fraction', batchSize: '--batch-size',
    gradAccum: '--grad-accum', learningRate: '--learning-rate', schedule: '--lr-schedule', maxGradNorm: '--max-grad-norm',
    optimizer: '--optimizer (adamw)', weightDecay: '--weight-decay', seed: '--seed', maxLength: '--max-length', packing: '--packing',
    completionOnly: '--train-on-prompt', skipInvalid: '--skip-invalid', lora: '--lora-r/--lora-alpha/--lora-dropout/--lora-targets/--full',
    epochs: '--epochs', suffix: '--suffix', warmupRatio: '--warmup-ratio', evals: '--evals',
  },
  results: 'adapter/ (PEFT) and adapter-mlx/ (mlx-lm), or model/ with --full; the hosted model name in job.json',
};

function status(s: FinetuneResponse['status']): JobStatus {
  switch (s) {
    case 'pending': case 'queued': return 'queued';
    case 'running': case 'compressing': case 'uploading': case 'cancel_requested': return 'running';
    case 'completed': return 'succeeded';
    case 'cancelled': return 'cancelled';
    case 'error': return 'failed';
  }
  return 'running';
}

function checkOptions(config: RunConfig): void {
  const o = config.options;
  const pref = o.preference ?? {};
  if (pref.lossType !== undefined && pref.lossType !== 'sigmoid') throw new ConfigError(`together: --loss-type ${pref.lossType} is not offered (Together's DPO is the sigmoid loss)`);
  for (const [k, flag] of [['labelSmoothing', '--label-smoothing'], ['cpoAlpha', '--cpo-alpha'], ['desirableWeight', '--desirable-weight'], ['undesirableWeight', '--undesirable-weight']] as const) {
    if (pref[k] !== undefined) throw new ConfigError(`together: ${flag} has no Together equivalent; remove it or use --backend local`);
  }
  if (o.optimizer !== undefined && o.optimizer !== 'adamw') throw new ConfigError(`together: --optimizer ${o.optimizer} is not offered (Together trains with AdamW)`);
  if (o.lora?.rslora) throw new ConfigError('together: --rslora has no Together equivalent');
  if (o.lora?.layers) throw new ConfigError('together: --lora-layers has no Together equivalent (adapters cover every layer)');
}

/** FineTuningCreateParams from a run config: only what the user set, so Together's defaults apply to the rest. */
export function togetherParams(config: RunConfig, files: Record<string, string>): FineTuningCreateParams {
  const o = config.options;
  const p: FineTuningCreateParams = { model: config.model, training_file: files.training };
  if (files.validation) { p.validation_file = files.validation; p.n_evals = o.evals ?? 1; }
  if (o.epochs !== undefined) p.n_epochs = o.epochs;
  if (o.batchSize !== undefined) p.batch_size = o.batchSize;
  if (o.gradAccum !== undefined) p.gradient_accumulation_steps = o.gradAccum;
  if (o.learningRate !== undefined) p.learning_rate = o.learningRate;
  // Together's schedules are linear and cosine; linear down to min_lr_ratio 1 is a constant rate.
  if (o.schedule !== undefined) p.lr_scheduler = o.schedule === 'constant'
    ? { lr_scheduler_type: 'linear', lr_scheduler_args: { min_lr_ratio: 1 } }
    : { lr_scheduler_type: o.schedule };
  if (o.warmupRatio !== undefined) p.warmup_ratio = o.warmupRatio;
  if (o.maxGradNorm !== undefined) p.max_grad_norm = o.maxGradNorm;
  if (o.weightDecay !== undefined) p.weight_decay = o.weightDecay;
  if (o.maxLength !== undefined) p.max_seq_length = o.maxLength;
  if (o.packing !== undefined) p.packing = o.packing;
  if (o.seed !== undefined) p.random_seed = o.seed;
  if (o.suffix !== undefined) p.suffix = o.suffix;
  if (config.method === 'sft') {
    p.training_method = { method: 'sft', train_on_inputs: o.completionOnly === undefined ? 'auto' : !o.completionOnly };
  } else {
    const pref = o.preference ?? {};
    const m: FineTuningCreateParams.TrainingMethodDpo = { method: 'dpo' };
    if (pref.beta !== undefined) m.dpo_beta = pref.beta;
    if (pref.rpoAlpha !== undefined) m.rpo_alpha = pref.rpoAlpha;
    if (config.method === 'simpo') {
      m.dpo_reference_free = true;
      m.dpo_normalize_logratios_by_length = true;
      m.simpo_gamma = pref.gamma ?? 0.5; // TRL's CPOConfig default, as the local simpo
    }
    p.training_method = m;
  }
  if (o.lora === null) p.training_type = { type: 'Full' };
  else if (o.lora) {
    p.training_type = { type: 'Lora', lora_r: o.lora.r, lora_alpha: o.lora.alpha, lora_trainable_modules: o.lora.targets.join(',') };
    if (o.lora.dropout !== undefined) p.training_type.lora_dropout = o.lora.dropout;
  }
  return p;
}

export function createTogetherBackend(opts: BackendOptions = {}) {
  const env = opts.env ?? process.env;
  const baseURL = opts.baseUrl ?? env.TOGETHER_BASE_URL ?? 'https://api.together.xyz/v1';
  const maxRetries = opts.maxRetries ?? 5;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let client: Together | null = null;
  // The key is read from the environment when a call needs it and lives only inside the SDK client.
  const sdk = () => (client ??= new Together({ apiKey: env.TOGETHER_API_KEY, baseURL, maxRetries, timeout: timeoutMs, fetch: retryIdempotent500 }));
  const call = async <T>(action: string, f: () => Promise<T>): Promise<T> => {
    try { return await f(); } catch (e) { throw providerError('together', 'TOGETHER_API_KEY', action, e); }
  };

  const provider: Provider = {
    name: 'together', keyVar: 'TOGETHER_API_KEY', textRows: true, checkOptions,

    // The documented upload (what the SDK's files.upload does): POST /files with the file's name,
    // type and purpose answers 302 with a Location to PUT the bytes to and the file id in
    // X-Together-File-Id. Done here because the SDK's helper reads its base URL from
    // $TOGETHER_API_BASE_URL once at import (not the client's baseURL) and does not retry.
    async upload(path) {
      const bytes = await readFile(path);
      const form = new URLSearchParams({ file_name: basename(path), file_type: 'jsonl', purpose: 'fine-tune' });
      const headers = { Authorization: `Bearer ${env.TOGETHER_API_KEY ?? ''}`, 'Content-Type': 'application/x-www-form-urlencoded' };
      const r = await call(`upload of ${path}`, () => fetchWithRetry(`${baseURL}/files?${form}`, { method: 'POST', headers, body: form.toString(), redirect: 'manual' }, { maxRetries, timeoutMs }));
      if (r.status !== 302) throw providerError('together', 'TOGETHER_API_KEY', `upload of ${path}`, { status: r.status, error: await r.json().catch(() => ({ message: r.statusText })) });
      const location = r.headers.get('location');
      const id = r.headers.get('x-together-file-id');
      if (!location || !id) throw providerError('together', 'TOGETHER_API_KEY', `upload of ${path}`, { status: r.status, error: { message: 'the upload redirect carried no Location or X-Together-File-Id' } });
      const put = await call(`upload of ${path}`, () => fetchWithRetry(location, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes }, { maxRetries, timeoutMs }));
      if (put.status !== 200) throw providerError('together', 'TOGETHER_API_KEY', `upload of ${path}`, { status: put.status, error: { message: put.statusText } });
      await call(`check of uploaded file ${id}`, () => sdk().files.retrieve(id));
      return id;
    },

    async estimate(config, files) {
      const p = togetherParams(config, files);
      const e = await call('price estimate', () => sdk().fineTuning.estimatePrice({
        training_file: p.training_file, validation_file: p.validation_file, model: p.model, n_epochs: p.n_epochs, n_evals: p.n_evals,
        training_method: p.training_method, training_type: p.training_type,
      }));
      if (!e.estimation_available) return `no price estimate (${e.unavailable_reason})`;
      const price = e.estimated_total_price === undefined ? 'an unknown price' : `$${e.estimated_total_price.toFixed(2)}`;
      const tokens = e.estimated_train_token_count === undefined ? '' : ` for ${e.estimated_train_token_count} training tokens`;
      const limit = e.user_limit === undefined ? '' : ` (credit limit $${e.user_limit})`;
      if (e.allowed_to_proceed === false) throw new ConfigError(`together: the job would cost ${price}${tokens}, more than the account allows${limit}`);
      return `estimated ${price}${tokens}${limit}`;
    },

    async create(config, files) {
      const r = await call('job creation', () => sdk().fineTuning.create(togetherParams(config, files)));
      return r.id;
    },

    async poll(id): Promise<PolledJob> {
      const r = await call(`status of job ${id}`, () => sdk().fineTuning.retrieve(id));
      const err = r.status === 'error' ? r.events?.filter((e) => e.type === 'job_error').pop()?.message : undefined;
      return { status: status(r.status), providerStatus: r.status, resultModel: r.model_output_name ?? null, ...(err ? { message: err } : {}) };
    },

    async newEvents(id, seen) {
      const r = await call(`events of job ${id}`, () => sdk().fineTuning.listEvents(id));
      const out: JobEvent[] = [];
      for (const e of r.data) {
        const key = `${e.created_at}|${e.type}|${e.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const level = e.level === 'error' || e.level === 'legacy_ierror' ? 'error' : e.level === 'warning' || e.level === 'legacy_iwarning' ? 'warning' : 'info';
        out.push({ type: 'log', level, message: `${e.type}: ${e.message}` });
        if (e.step !== undefined) out.push({ type: 'progress', step: e.step, totalSteps: e.total_steps });
      }
      return out;
    },

    async metrics(id) {
      const r = await call(`metrics of job ${id}`, () => sdk().fineTuning.listMetrics(id));
      return (r.metrics ?? []).map(localMetrics).sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
    },

    async fetchResults(id, rec: JobRecord, outputDir) {
      const full = rec.config.options.lora === null;
      const res = await call(`download of job ${id}`, () => sdk().fineTuning.content({ ft_id: id, checkpoint: full ? 'merged' : 'adapter' }));
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (!full) return writeDownloadedAdapter(bytes, `together job ${id} download`, outputDir, rec.config.model);
      const written: string[] = [];
      for (const [name, data] of untar(await decompress(bytes, `together job ${id} download`))) {
        const rel = join('model', name.split('/').pop()!);
        await mkdir(dirname(join(outputDir, rel)), { recursive: true });
        await writeFile(join(outputDir, rel), data);
        written.push(rel);
      }
      return written;
    },

    async cancel(id) { await call(`cancel of job ${id}`, () => sdk().fineTuning.cancel(id)); },

    async list(): Promise<JobInfo[]> {
      const r = await call('job list', () => sdk().fineTuning.list());
      return r.data.map((j) => info(j as FinetuneResponse));
    },

    async info(id) { return info(await call(`status of job ${id}`, () => sdk().fineTuning.retrieve(id))); },
  };

  const unavailable = async () => (env.TOGETHER_API_KEY ? null : 'together: set TOGETHER_API_KEY to your Together API key (https://api.together.ai/settings/api-keys)');
  return hostedBackend(provider, `Together fine-tuning (${baseURL})`, TOGETHER_CAPABILITIES, unavailable, { pollMs: opts.pollMs, baseUrl: opts.baseUrl ?? env.TOGETHER_BASE_URL ?? null });
}

/**
 * The Together SDK retries 408, 409, 429 and ≥ 501 but not 500 (client.ts shouldRetry). A 500 on a
 * read (status, events, metrics, download) is as transient as a 502 and safe to repeat, so it is
 * marked retryable (the SDK obeys x-should-retry); a 500 on a POST is not, since a job might exist.
 */
const retryIdempotent500: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  if (res.status !== 500 || (init?.method ?? 'GET').toUpperCase() !== 'GET') return res;
  const headers = new Headers(res.headers);
  headers.set('x-should-retry', 'true');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
};

function info(j: FinetuneResponse): JobInfo {
  return { id: j.id, status: status(j.status), providerStatus: j.status, model: j.model ?? '', createdAt: j.created_at ?? '', resultModel: j.model_output_name ?? null };
}

registerBackend('together', createTogetherBackend);
