// `wgrad train --backend together|openai|http://HOST:PORT`: the same flags and data files, run by a
// training backend (llm/backends) instead of this process. Only the flags the user set (on the
// command line or in --config) go into the run config, so the backend refuses by name what it
// cannot honour and its own defaults apply to the rest. The engine's devices (cpu, webgpu, auto)
// go through the same protocol in train.ts, with the local backend and every setting filled in.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import {
  backendFromConfig, ConfigError, selectTrainingBackend, TERMINAL, type JobEvent, type RunConfig, type TrainingBackend,
} from '../llm/backends/index.ts';
import { Exit, log, UsageError, type Command, type Flag } from './args.ts';
import { BACKENDS, backendFlags } from './options.ts';

const HOSTED = ['local', 'together', 'openai'];

/** train's --backend: a device of this engine, a hosted provider, or a wgrad server's URL. */
export const trainBackendFlags: Flag[] = [
  {
    flags: '--backend <name>',
    help: 'cpu | webgpu | auto (this engine; default $WGRAD_BACKEND, then auto), together | openai (hosted fine-tuning), http://HOST:PORT (a wgrad serve --api)',
    parse: (raw, flag) => {
      if ((BACKENDS as readonly string[]).includes(raw) || HOSTED.includes(raw) || /^https?:\/\/[^/\s]+/.test(raw)) return raw;
      throw new UsageError(`${flag} expects ${[...BACKENDS, ...HOSTED].join(' | ')} | http://HOST:PORT, got "${raw}"`);
    },
  },
  ...backendFlags.filter((f) => !f.flags.startsWith('--backend')),
];

export const trainingBackendFlags: Flag[] = [
  { flags: '--base-url <url>', help: 'hosted backends: the API base URL (proxies; default $TOGETHER_BASE_URL / $OPENAI_BASE_URL)' },
  { flags: '--yes', help: 'hosted backends: start the job without asking about its price' },
  { flags: '--suffix <s>', help: 'hosted backends: suffix of the fine-tuned model\'s name' },
  { flags: '--warmup-ratio <f>', help: 'together: share of the steps spent warming up the learning rate' },
  { flags: '--lr-multiplier <x>', help: 'openai: learning_rate_multiplier' },
  { flags: '--evals <n>', help: 'together: evaluations on the validation data over the run (n_evals)' },
  { flags: '--grader <file.json>', help: 'openai --method reinforcement: the grader object' },
  { flags: '--poll-interval <s>', help: 'hosted backends: seconds between status checks at first (backs off to 60)', default: 10 },
];

/** The device a config's `backend: {type: local|cpu|webgpu|auto, device}` section names for this process. */
export function localDevice(configBackend: unknown, configFile?: string): string | undefined {
  if (configBackend === undefined || typeof configBackend !== 'object') return undefined;
  const s = backendFromConfig(configBackend, configFile ?? '--config')!;
  return s.opts.device ?? ((BACKENDS as readonly string[]).includes(s.spec) ? s.spec : undefined);
}

/** The training backend `train` should hand the run to, or null for this process (cpu/webgpu/auto). */
export function remoteBackendChoice(o: Record<string, unknown>, configBackend: unknown, configFile?: string): { spec: string; section: ReturnType<typeof backendFromConfig> } | null {
  const section = configBackend !== undefined && typeof configBackend === 'object' ? backendFromConfig(configBackend, configFile ?? '--config') : null;
  const spec = (o.backend as string | undefined) ?? section?.spec ?? (typeof configBackend === 'string' ? configBackend : undefined) ?? process.env.WGRAD_BACKEND;
  if (!spec || (BACKENDS as readonly string[]).includes(spec) || spec === 'local') return null;
  return { spec, section };
}

const num = (raw: unknown, flag: string, ok: (n: number) => boolean, what: string) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || !ok(n)) throw new UsageError(`${flag} expects ${what}, got "${raw}"`);
  return n;
};

/** RunConfig from the flags the user set (source cli or config), named as the backends know them. */
export function runConfigFromFlags(o: Record<string, unknown>, cmd: Command): RunConfig {
  const given = (k: string) => o[k] !== undefined && ['cli', 'config', 'env'].includes(cmd.getOptionValueSource(k) ?? '');
  const pick = (k: string) => (given(k) ? o[k] : undefined);
  const refuse = ['adapterPath', 'overwrite', 'stopOnDivergence', 'numLayers', 'logEvery'].filter(given);
  if (refuse.length) throw new UsageError(`--${refuse[0].replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} applies to runs in this process, not to --backend ${o.backend ?? process.env.WGRAD_BACKEND}`);
  const pref = Object.fromEntries(Object.entries({
    beta: pick('beta'), lossType: pick('lossType'), labelSmoothing: pick('labelSmoothing'), rpoAlpha: pick('rpoAlpha'), cpoAlpha: pick('cpoAlpha'),
    gamma: pick('simpoGamma'), desirableWeight: pick('desirableWeight'), undesirableWeight: pick('undesirableWeight'),
  }).filter(([, v]) => v !== undefined));
  const full = !!o.full || o.fineTuneType === 'full';
  const loraGiven = ['loraR', 'loraAlpha', 'loraDropout', 'loraTargets', 'loraLayers', 'rslora'].some(given);
  const grader = pick('grader') as string | undefined;
  let graderObj: Record<string, unknown> | undefined;
  if (grader) {
    try { graderObj = JSON.parse(readFileSync(grader, 'utf8')); } catch (e) { throw new UsageError(`--grader ${grader}: ${(e as Error).message}`); }
  }
  const options: RunConfig['options'] = {
    preference: Object.keys(pref).length ? pref : undefined,
    maxPromptLength: pick('maxPromptLength') as number | undefined, truncationMode: pick('truncationMode') as RunConfig['options']['truncationMode'],
    precomputeRef: given('precomputeRef') ? true : undefined, valid: pick('valid') as string | undefined, valFraction: pick('valFraction') as number | undefined,
    maxLength: pick('maxLength') as number | undefined, packing: given('packing') ? true : undefined,
    completionOnly: given('trainOnPrompt') ? false : undefined, skipInvalid: given('skipInvalid') ? true : undefined,
    chatTemplate: pick('chatTemplate') as string | undefined,
    lora: full ? null : loraGiven ? {
      r: o.loraR as number, alpha: o.loraAlpha as number, targets: o.loraTargets as string[],
      ...(given('loraDropout') ? { dropout: o.loraDropout as number } : {}), ...(o.rslora ? { rslora: true } : {}), ...(o.loraLayers ? { layers: o.loraLayers as [number, number] } : {}),
    } : undefined,
    maxSteps: pick('maxSteps') as number | undefined, epochs: pick('numTrainEpochs') as number | undefined,
    batchSize: pick('batchSize') as number | undefined, gradAccum: pick('gradAccum') as number | undefined,
    learningRate: pick('learningRate') as number | undefined, schedule: pick('lrSchedule') as RunConfig['options']['schedule'],
    warmupSteps: pick('warmupSteps') as number | undefined, optimizer: pick('optimizer') as RunConfig['options']['optimizer'],
    weightDecay: pick('weightDecay') as number | undefined, maxGradNorm: pick('maxGradNorm') as number | undefined, seed: pick('seed') as number | undefined,
    evalEvery: pick('evalEvery') as number | undefined, saveEvery: pick('saveEvery') as number | undefined, saveTotalLimit: pick('saveTotalLimit') as number | undefined,
    tokenizer: pick('tokenizer') as string | undefined, suffix: pick('suffix') as string | undefined,
    warmupRatio: given('warmupRatio') ? num(o.warmupRatio, '--warmup-ratio', (n) => n >= 0 && n < 1, 'a fraction in [0, 1)') : undefined,
    lrMultiplier: given('lrMultiplier') ? num(o.lrMultiplier, '--lr-multiplier', (n) => n > 0, 'a positive number') : undefined,
    evals: given('evals') ? num(o.evals, '--evals', (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0') : undefined,
    grader: graderObj,
  };
  for (const k of Object.keys(options) as (keyof typeof options)[]) if (options[k] === undefined) delete options[k];
  return { method: o.method as RunConfig['method'], model: o.model as string, data: o.data as string, outputDir: o.outputDir as string, options };
}

/** A one-line account of an event for stderr. */
export function describeEvent(e: JobEvent): string {
  switch (e.type) {
    case 'status': return `status: ${e.status}${e.message ? ` (${e.message})` : ''}`;
    case 'progress': return `step ${e.step}${e.totalSteps ? `/${e.totalSteps}` : ''}`;
    case 'metrics': return Object.entries(e.record).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`).join(', ');
    case 'log': return `${e.level === 'info' ? '' : e.level + ': '}${e.message}`;
  }
}

async function askToSpend(estimate: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try { return /^y(es)?$/i.test((await rl.question(`${estimate}. Start the job? [y/N] `)).trim()); } finally { rl.close(); }
}

export async function trainOnBackend(o: Record<string, unknown>, cmd: Command, choice: NonNullable<ReturnType<typeof remoteBackendChoice>>): Promise<void> {
  for (const req of o.resume ? ['outputDir'] : ['model', 'data', 'outputDir']) {
    if (!o[req]) throw new UsageError(`--${req.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required (see wgrad train --help)`);
  }
  let backend: TrainingBackend;
  try {
    const poll = num(o.pollInterval, '--poll-interval', (n) => n > 0 && n <= 3600, 'seconds in (0, 3600]');
    backend = selectTrainingBackend({ flag: choice.spec, config: choice.section }, { baseUrl: o.baseUrl as string | undefined, pollMs: poll * 1000 });
  } catch (e) { throw e instanceof ConfigError ? new UsageError(e.message) : e; }
  log(`wgrad: training backend ${backend.name}: ${backend.description}`);
  const stop = new AbortController();
  const onSigint = () => { log('wgrad: detaching; the job keeps running (wgrad train --resume re-attaches, wgrad jobs cancel stops it)'); stop.abort(new Exit(130)); };
  process.once('SIGINT', onSigint);
  try {
    const opts = { onEvent: (e: JobEvent) => log(`${backend.name}: ${describeEvent(e)}`), yes: !!o.yes, confirmSpend: askToSpend, signal: stop.signal };
    let job;
    if (o.resume) job = await backend.resume(o.outputDir as string, opts);
    else {
      const config = runConfigFromFlags(o, cmd);
      const v = await backend.validate(config);
      log(`wgrad: data ${v.summary}`);
      job = await backend.start(config, opts);
    }
    const r = await job.done;
    log(`wgrad: job ${job.id} ${r.status}; ${r.files.length ? `wrote ${r.files.join(', ')} in ${r.outputDir}` : 'no results'}${r.modelId ? `; model ${r.modelId}` : ''}`);
    if (r.status !== 'succeeded') throw new Exit(1, r.error ? `job ${job.id} ${r.status}: ${r.error}` : `job ${job.id} ${r.status}`);
    if (!TERMINAL.includes(r.status)) throw new Exit(1);
  } catch (e) {
    if (e instanceof Exit) throw e;
    if (stop.signal.aborted) throw stop.signal.reason;
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
