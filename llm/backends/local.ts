// The local backend: this engine on webgpu or cpu, through runTraining (llm/train/run.ts), writing
// what `wgrad train` writes: metrics.jsonl, checkpoints/, adapter/ (PEFT) and adapter-mlx/ (mlx-lm),
// or model/ with full fine-tuning, plus job.json so `--resume` continues from the newest checkpoint.
// `wgrad train` on cpu/webgpu comes through here too (validate → start → events → results); what
// only a caller in this process can give (its run folder's run.json, the data summary object, a
// stop reason, mlx-lm's --adapter-path, --num-layers) goes in StartOptions.local.
// Settings that depend on the model are checked here, after it loads: --max-length (default
// min(1024, the model's positions)), --max-prompt-length, --lora-layers, the tokenizer's vocabulary.
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createBackend, type Backend } from '../../engine/index.ts';
import { exportHfFolder, saveAdapter } from '../adapters/index.ts';
import { formatDataSummary, type DataSummary } from '../data/summary.ts';
import { loadLlama } from '../models/llama/load.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { loadTokenizer } from '../tokenizers/load.ts';
import { runTraining, type TrainSettings } from '../train/run.ts';
import { checkAgainstCapabilities } from './capabilities.ts';
import { checkRunData } from './data-check.ts';
import { JOB_FILE, readJobRecord, writeJobRecord, type JobRecord } from './job-file.ts';
import { ConfigError, type Capabilities, type Job, type JobResult, type RunConfig, type StartOptions, type TrainingBackend } from './protocol.ts';
import { registerBackend, type BackendOptions } from './registry.ts';

const NOT_HERE = 'a local-only method that this backend does not run yet';
export const LOCAL_CAPABILITIES: Capabilities = {
  methods: {
    sft: { level: 'yes' },
    dpo: { level: 'yes', note: 'losses sigmoid, robust, hinge, ipo; RPO' },
    orpo: { level: 'yes' },
    cpo: { level: 'yes' },
    simpo: { level: 'yes' },
    kto: { level: 'yes' },
    reinforcement: { level: 'no', note: "hosted graders are OpenAI's; the local counterpart is grpo" },
    grpo: { level: 'yes', note: 'TRL 1.x losses dapo, grpo, bnpo, dr_grpo, cispo; reward functions are built-ins or JS/TS modules' },
    rlvr: { level: 'yes', note: 'GRPO with verifier rewards only (--reward-funcs accuracy, format, ...)' },
    abliteration: { level: 'no', note: `${NOT_HERE} (a weight edit, not a training run)` },
    steering: { level: 'no', note: `${NOT_HERE} (vectors added at inference)` },
  },
  training: ['lora', 'full'],
  dtypes: ['float32'],
  largestModel: "what fits the device's memory in float32 (weights, LoRA state, activations)",
  dataFormats: ['messages', 'sharegpt', 'prompt-completion', 'alpaca', 'text', 'prompt-chosen-rejected', 'chosen-rejected', 'openai-dpo', 'prompt-completion-label', 'prompt (grpo/rlvr: text or messages, other columns go to the rewards)', 'gsm8k question-answer'],
  options: {
    preference: '--beta/--loss-type/...', maxPromptLength: '--max-prompt-length', truncationMode: '--truncation-mode',
    precomputeRef: '--precompute-ref', valid: '--valid', valFraction: '--val-fraction', maxSteps: '--max-steps', batchSize: '--batch-size',
    gradAccum: '--grad-accum', learningRate: '--learning-rate', schedule: '--lr-schedule', warmupSteps: '--warmup-steps',
    maxGradNorm: '--max-grad-norm', optimizer: '--optimizer', weightDecay: '--weight-decay', seed: '--seed', maxLength: '--max-length',
    packing: '--packing', completionOnly: '--train-on-prompt', skipInvalid: '--skip-invalid', chatTemplate: '--chat-template',
    lora: '--lora-*/--full', evalEvery: '--eval-every', saveEvery: '--save-every', saveTotalLimit: '--save-total-limit',
    epochs: '--epochs', tokenizer: '--tokenizer',
    grpo: '--num-generations/--epsilon/...', rewardFuncs: '--reward-funcs', softPunishCache: '--soft-punish-cache', logCompletions: '--log-completions',
  },
  results: 'adapter/ (PEFT), adapter-mlx/ (mlx-lm) or model/ (--full), metrics.jsonl, checkpoints/',
};

/** wgrad train's defaults: what a local run uses for options the user left out (maxLength: min(1024, the model's positions)). */
export const LOCAL_DEFAULTS = {
  maxSteps: 100, batchSize: 4, gradAccum: 1, learningRate: 1e-4, schedule: 'cosine', warmupSteps: 0, maxGradNorm: 1, optimizer: 'adamw',
  weightDecay: 0, seed: 0, evalEvery: 50, saveEvery: 100,
  lora: { r: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'v_proj'] },
} as const satisfies Partial<TrainSettings>;

/** The TrainSettings a run config stands for (defaults filled in). */
export function localSettings(config: RunConfig, resume: boolean): TrainSettings {
  const { suffix: _s, grader: _g, tokenizer: _t, warmupRatio: _w, lrMultiplier: _l, evals: _n, ...o } = config.options;
  return {
    ...LOCAL_DEFAULTS, ...o,
    lora: o.lora === null ? null : { ...LOCAL_DEFAULTS.lora, targets: [...LOCAL_DEFAULTS.lora.targets], ...o.lora },
    method: config.method as TrainSettings['method'], data: config.data, outputDir: config.outputDir, resume,
  } as TrainSettings;
}

async function filesUnder(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p, root)));
    else out.push(relative(root, p));
  }
  return out.sort();
}

/** The default --max-length of a model: 1024 tokens, or fewer when the model has fewer positions. */
export const defaultMaxLength = (model: LlamaForCausalLM) => Math.min(1024, model.config.maxPositions);

/** The model-dependent checks and defaults of a run's settings; throws ConfigError naming the flag. */
export function settingsForModel(s: TrainSettings, model: LlamaForCausalLM): TrainSettings {
  const cfg = model.config;
  const maxLength = s.maxLength ?? defaultMaxLength(model);
  if (maxLength > cfg.maxPositions) throw new ConfigError(`--max-length ${maxLength} exceeds the model's ${cfg.maxPositions} positions`);
  if (s.maxPromptLength !== undefined && s.maxPromptLength >= maxLength) throw new ConfigError(`--max-prompt-length ${s.maxPromptLength} must be smaller than --max-length ${maxLength}`);
  const layers = s.lora?.layers;
  if (layers && layers[1] >= cfg.numLayers) throw new ConfigError(`--lora-layers ${layers.join('-')}: the model has layers 0-${cfg.numLayers - 1}`);
  return { ...s, maxLength };
}

/** What only a caller in this process can add to a local run (wgrad train). */
export interface LocalRunOptions {
  /**
   * The last word on the settings once the model is loaded and checked (after the model-dependent
   * defaults), before anything is written to the run folder: wgrad train resolves --num-layers and
   * writes run.json here. Throwing stops the job.
   */
  prepare?: (s: TrainSettings, model: LlamaForCausalLM) => Promise<TrainSettings>;
  /** The data summary as an object (its lines also come as log events). */
  onData?: (summary: DataSummary) => void | Promise<void>;
  /** Continue the run in outputDir from its newest checkpoint, with this config (the caller checked it against the folder). */
  resume?: boolean;
  /** Where adapter-mlx/ goes (mlx-lm's --adapter-path; default outputDir/adapter-mlx). */
  mlxAdapterDir?: string;
  /** With --full: the folder the tokenizer files are copied from into model/ (default: the model folder, none for a .bin). */
  tokenizerFrom?: string | null;
}

export interface LocalStartOptions extends StartOptions {
  /**
   * Locally, `signal` stops the run after the current step, with a checkpoint unless its reason
   * says `checkpoint: false`; the job ends 'cancelled'.
   */
  local?: LocalRunOptions;
}

/** The local backend: the protocol, with LocalStartOptions accepted where it starts or resumes a job. */
export interface LocalTrainingBackend extends TrainingBackend {
  start(config: RunConfig, opts?: LocalStartOptions): Promise<Job>;
  resume(outputDir: string, opts?: LocalStartOptions): Promise<Job>;
}

export interface LocalBackendOptions extends BackendOptions {
  /** A compute backend to train on (not destroyed here); default: one made from `device`. */
  compute?: Backend;
}

export function createLocalBackend(opts: LocalBackendOptions = {}): LocalTrainingBackend {
  const device = opts.device ?? 'auto';

  function run(config: RunConfig, rec: JobRecord, resume: boolean, o: LocalStartOptions): Job {
    const emit = o.onEvent ?? (() => {});
    const local = o.local ?? {};
    // Cancel stops after the current step, with a checkpoint (the trainer's signal), so --resume continues from there.
    const stop = new AbortController();
    const onAbort = () => stop.abort(o.signal!.reason);
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (async (): Promise<JobResult> => {
      const compute = opts.compute ?? (await createBackend({ backend: device }));
      const out = config.outputDir;
      try {
        // Who passed the compute backend knows its device already.
        if (!opts.compute) emit({ type: 'log', level: 'info', message: `local: ${compute.description}` });
        emit({ type: 'status', status: 'running' });
        rec.status = 'running';
        await writeJobRecord(out, rec);
        const model = config.model;
        const tokenizerPath = config.options.tokenizer ?? (model.endsWith('.bin') ? join(model, '..', 'tokenizer.bin') : model);
        const tokenizer = await loadTokenizer(tokenizerPath);
        const { model: llama } = await loadLlama(model, { backend: compute });
        try {
          const cfg = llama.config;
          if (tokenizer.vocabSize > cfg.vocabSize) {
            throw new ConfigError(`the tokenizer ${tokenizerPath} has ${tokenizer.vocabSize} tokens but the model ${model} has vocab_size ${cfg.vocabSize}: ` +
              'they do not belong together (pass the tokenizer the model was trained with as --tokenizer)');
          }
          emit({ type: 'log', level: 'info', message: `loaded ${model.endsWith('.bin') ? 'llama2c' : 'hf'} model ${model} (${cfg.numLayers} layers, hidden ${cfg.hiddenSize}, ${cfg.maxPositions} positions)` });
          let s = settingsForModel(localSettings(config, resume), llama);
          if (local.prepare) s = await local.prepare(s, llama);
          let totalSteps = s.maxSteps;
          const r = await runTraining(llama, tokenizer, s, {
            signal: stop.signal,
            onData: async (summary) => {
              for (const line of formatDataSummary(summary)) emit({ type: 'log', level: 'info', message: line });
              await local.onData?.(summary);
            },
            onStart: (i) => { totalSteps = i.maxSteps; },
            onStep: (r) => {
              emit({ type: 'progress', step: r.step, totalSteps });
              emit({ type: 'metrics', phase: 'train', record: Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)) as Record<string, number> });
            },
            onEval: (r) => emit({ type: 'metrics', phase: 'eval', record: { ...r } }),
            loadReference: async () => (await loadLlama(model, { backend: compute })).model,
            log: (m) => emit({ type: 'log', level: 'info', message: m }),
          });
          if (r.stopped !== undefined) {
            rec.status = 'cancelled';
            await writeJobRecord(out, rec);
            emit({ type: 'status', status: 'cancelled', message: 'cancelled after a checkpoint; --resume continues' });
            return { status: 'cancelled', outputDir: out, files: await filesUnder(out), modelId: null };
          }
          if (s.lora) {
            await saveAdapter(llama, join(out, 'adapter'), { format: 'peft', baseModel: model });
            await saveAdapter(llama, local.mlxAdapterDir ?? join(out, 'adapter-mlx'), { format: 'mlx', baseModel: model });
          } else {
            const from = local.tokenizerFrom !== undefined ? local.tokenizerFrom ?? undefined : model.endsWith('.bin') ? undefined : model;
            await exportHfFolder(llama, join(out, 'model'), { tokenizerFrom: from });
          }
        } finally {
          llama.dispose();
        }
        rec.status = 'succeeded';
      } catch (e) {
        rec.status = 'failed';
        await writeJobRecord(out, rec);
        emit({ type: 'status', status: 'failed', message: (e as Error).message });
        throw e;
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
        if (!opts.compute) compute.destroy();
      }
      await writeJobRecord(out, rec);
      emit({ type: 'status', status: 'succeeded' });
      return { status: 'succeeded', outputDir: out, files: (await filesUnder(out)).filter((f) => !f.startsWith('checkpoints/')), modelId: null };
    })();
    return { backend: 'local', id: rec.jobId, done, cancel: async () => { stop.abort({ checkpoint: true }); } };
  }

  const backend: LocalTrainingBackend = {
    name: 'local',
    description: `this engine (device ${device})`,
    capabilities: LOCAL_CAPABILITIES,
    unavailable: async () => null, // the cpu backend runs everywhere

    async validate(config) {
      checkAgainstCapabilities(backend, config);
      const data = await checkRunData(config);
      return { summary: data?.summary ?? 'data is checked when training loads it', rows: data?.train.rows.length ?? 0 };
    },

    async start(config, o: LocalStartOptions = {}) {
      if (!o.local?.resume && existsSync(join(config.outputDir, JOB_FILE))) {
        throw new ConfigError(`${join(config.outputDir, JOB_FILE)} exists: a run was started in ${config.outputDir}; pass --resume to continue it, or choose another --output-dir`);
      }
      await backend.validate(config);
      await mkdir(config.outputDir, { recursive: true });
      const now = new Date().toISOString();
      const rec: JobRecord = { backend: 'local', jobId: `local-${Date.now().toString(36)}`, fileIds: {}, baseUrl: null, config, status: 'queued', resultModel: null, createdAt: now, updatedAt: now };
      await writeJobRecord(config.outputDir, rec);
      return run(config, rec, !!o.local?.resume, o);
    },

    async resume(outputDir, o: LocalStartOptions = {}) {
      const rec = await readJobRecord(outputDir);
      if (rec.backend !== 'local') throw new ConfigError(`${join(outputDir, JOB_FILE)} records a ${rec.backend} job; resume it with --backend ${rec.backend}`);
      return run({ ...rec.config, outputDir }, rec, true, o);
    },
  };
  return backend;
}

registerBackend('local', createLocalBackend);
