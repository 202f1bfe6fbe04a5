// wgrad train --method sft|dpo|orpo|cpo|simpo|kto|grpo|rlvr: LoRA or full fine-tuning from the command line or
// a YAML config, writing metrics.jsonl, adapter/ (PEFT), adapter-mlx/ (mlx-lm) and checkpoints/ to
// --output-dir. Flag names follow TRL and mlx-lm (their spellings are aliases).
// On this engine (cpu, webgpu, auto) the run goes through the local TrainingBackend like any other
// (llm/backends/local.ts: validate → start → events → results); this file turns flags into the run
// config, keeps run.json, and draws progress, divergence warnings and Ctrl-C from the job's events.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, createLocalBackend, type JobEvent, type RunConfig } from '../../llm/backends/index.ts';
import { JOB_FILE } from '../../llm/backends/job-file.ts';
import type { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import type { PreparedRun } from '../../llm/train/run-dir.ts';
import type { TrainSettings } from '../../llm/train/run.ts';
import type { EvalRecord, StepRecord } from '../../llm/train/trainer.ts';
import { DPO_LOSS_TYPES, type DpoLossType } from '../../llm/methods/dpo.ts';
import { PREFERENCE_METHODS } from '../../llm/train/preference.ts';
import {
  applyConfig, choice, Exit, fraction, integer, list, log, nonNegative, nonNegativeInt, number, positive, positiveInt, UsageError,
  type Command, type CommandSpec, type Flag,
} from '../args.ts';
import { openBackend } from '../backend.ts';
import { resolveModelPaths } from '../model-path.ts';
import { chatTemplateFlag, modelFlags } from '../options.ts';
import { progressReporter, type Progress } from '../progress.ts';
import { checkOutputDir } from '../output-dir.ts';
import { checkRun, fsContext, prepareRun, resumeCommand, stopOnSignals } from '../run.ts';
import { DivergenceMonitor } from '../../llm/train/divergence.ts';
import { updateRunRecord } from '../../llm/train/run-dir.ts';
import { checkpointBefore } from '../../llm/train/checkpoint.ts';
import { localDevice, remoteBackendChoice, trainBackendFlags, trainingBackendFlags, trainOnBackend } from '../training-backend.ts';
import { GRPO_LOSS_TYPES } from '../../llm/methods/grpo.ts';
import { GRPO_METHOD_NAMES, grpoFlags, grpoSettings } from './train-grpo.ts';

const METHODS = ['sft', ...PREFERENCE_METHODS, ...GRPO_METHOD_NAMES, 'reinforcement'] as const;

const methodFlags: Flag[] = [
  { flags: '--method <m>', help: 'sft; preference methods (TRL 1.x losses and metric names): dpo, orpo, cpo, simpo, kto; grpo, rlvr; reinforcement (--backend openai)', default: 'sft', parse: choice(METHODS) },
  { flags: '--beta <b>', help: 'preference methods: β (default 0.1); grpo/rlvr: KL coefficient (default 0)', parse: nonNegative },
  { flags: '--loss-type <t>', help: 'dpo: sigmoid (default) | robust | hinge | ipo; grpo/rlvr: dapo (default) | grpo | bnpo | dr_grpo | cispo', parse: choice([...DPO_LOSS_TYPES, ...GRPO_LOSS_TYPES]) },
  { flags: '--label-smoothing <e>', help: 'dpo (cDPO/robust), cpo, simpo: ε (default 0)', parse: number('a number in [0, 0.5)', (n) => n >= 0 && n < 0.5) },
  { flags: '--rpo-alpha <a>', help: 'dpo: add A × NLL of the chosen completions (RPO)', parse: nonNegative },
  { flags: '--cpo-alpha <a>', help: 'cpo/simpo: weight of the chosen NLL (default 1 for cpo, 0 for simpo)', parse: nonNegative },
  { flags: '--simpo-gamma <g>', help: 'simpo: target margin γ (default 0.5)', parse: number() },
  { flags: '--desirable-weight <w>', help: 'kto (default 1)', parse: positive },
  { flags: '--undesirable-weight <w>', help: 'kto (default 1)', parse: positive },
  { flags: '--max-prompt-length <n>', help: 'preference data: longest prompt when a pair exceeds --max-length', parse: positiveInt },
  { flags: '--truncation-mode <m>', help: 'keep_start | keep_end', default: 'keep_start', parse: choice(['keep_start', 'keep_end'] as const) },
  { flags: '--precompute-ref', help: 'dpo: reference log-probs computed once before training' },
];

const dataFlags: Flag[] = [
  { flags: '--data <file|dir>', help: 'JSONL, JSON, CSV, Parquet, .jsonl.gz (or a folder with train.* / valid.*)', aliases: ['--dataset'] },
  { flags: '--valid <file>', help: 'validation data (default: DIR/valid.*, else --val-fraction); grpo/rlvr: held-out prompts, scored every --eval-every steps (eval_reward, ...)', aliases: ['--eval-dataset'] },
  { flags: '--val-fraction <f>', help: 'hold out this share of the training rows', default: 0, parse: fraction },
  { flags: '--max-length <n>', help: 'truncate examples to N tokens (default: min(1024, the model\'s positions))', parse: positiveInt, aliases: ['--max-seq-length'] },
  { flags: '--packing', help: 'pack examples into rows of --max-length tokens' },
  { flags: '--train-on-prompt', help: 'loss on every token, not only completions' },
  { flags: '--skip-invalid', help: 'skip malformed rows (counted) instead of stopping' },
  chatTemplateFlag,
];

const loraFlags: Flag[] = [
  { flags: '--lora-r <r>', help: 'LoRA rank', default: 8, parse: positiveInt, aliases: ['--lora-rank'] },
  { flags: '--lora-alpha <a>', help: 'LoRA α (scale α/r)', default: 16, parse: positive },
  { flags: '--lora-dropout <p>', help: 'dropout on the LoRA input', default: 0, parse: number('a probability in [0, 1)', (n) => n >= 0 && n < 1) },
  { flags: '--lora-targets <list>', help: 'q_proj,v_proj,... or all-linear', default: ['q_proj', 'v_proj'], parse: list, aliases: ['--target-modules'] },
  { flags: '--lora-layers <first-last>', help: 'adapt only these layers (e.g. 0-15)', parse: layerRange },
  { flags: '--num-layers <n>', help: 'mlx-lm: adapt the last N layers (-1: all)', parse: number('a positive integer or -1', (n) => n === -1 || (Number.isInteger(n) && n > 0)) },
  { flags: '--rslora', help: 'rank-stabilised scale α/√r' },
  { flags: '--full', help: 'full fine-tuning instead of LoRA (writes model/ as a Hugging Face folder)' },
  { flags: '--fine-tune-type <t>', help: 'mlx-lm: lora (default) | full', parse: fineTuneType },
];

const trainingFlags: Flag[] = [
  { flags: '--max-steps <n>', help: 'optimizer steps (default 100, or from --num-train-epochs)', parse: positiveInt, aliases: ['--iters'] },
  { flags: '--num-train-epochs <n>', help: 'TRL: passes over the training rows (sets --max-steps)', parse: positive, aliases: ['--epochs'] },
  { flags: '--batch-size <b>', help: 'examples per micro-batch', default: 4, parse: positiveInt, aliases: ['--per-device-train-batch-size'] },
  { flags: '--grad-accum <n>', help: 'micro-batches per step', default: 1, parse: positiveInt, aliases: ['--gradient-accumulation-steps'] },
  { flags: '--learning-rate <lr>', help: 'peak learning rate', default: 1e-4, parse: positive, aliases: ['--lr'] },
  { flags: '--lr-schedule <s>', help: 'constant | linear | cosine', default: 'cosine', parse: choice(['constant', 'linear', 'cosine'] as const), aliases: ['--lr-scheduler-type'] },
  { flags: '--warmup-steps <n>', help: 'linear warmup steps', default: 0, parse: nonNegativeInt },
  { flags: '--optimizer <o>', help: 'adamw | sgd | lion', default: 'adamw', parse: choice(['adamw', 'sgd', 'lion'] as const), aliases: ['--optim'] },
  { flags: '--weight-decay <w>', help: 'decoupled weight decay', default: 0, parse: nonNegative },
  { flags: '--max-grad-norm <x>', help: 'global-norm clipping', default: 1, parse: positive },
  { flags: '--seed <s>', help: 'seed for LoRA init, shuffling and dropout', default: 0, parse: integer },
];

const runFlags: Flag[] = [
  { flags: '--output-dir <dir>', help: 'metrics.jsonl, run.json, adapter/ (PEFT), adapter-mlx/ (mlx-lm), checkpoints/' },
  { flags: '--eval-every <n>', help: 'evaluate every N steps', default: 50, parse: positiveInt, aliases: ['--steps-per-eval', '--eval-steps'] },
  { flags: '--save-every <n>', help: 'checkpoint every N steps', default: 100, parse: positiveInt, aliases: ['--save-steps'] },
  { flags: '--save-total-limit <n>', help: 'keep only the newest N checkpoints', parse: positiveInt },
  { flags: '--log-every <n>', help: 'progress line every N steps when stderr is not a terminal', default: 10, parse: positiveInt, aliases: ['--steps-per-report', '--logging-steps'] },
  { flags: '--resume', help: 'continue the run in --output-dir from its newest checkpoint (same settings)' },
  { flags: '--overwrite', help: 'replace the run in --output-dir (its run.json, metrics, checkpoints, adapters)', aliases: ['--overwrite-output-dir'] },
  { flags: '--stop-on-divergence', help: 'stop when the loss diverges, keeping the last good checkpoint' },
  { flags: '--adapter-path <dir>', help: 'mlx-lm: where to write the mlx-lm adapter (default DIR/adapter-mlx)' },
  { flags: '--config <file>', help: 'YAML with the same keys as the flags (- or _); flags on the command line win' },
];

function layerRange(raw: string, flag: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(raw.trim());
  if (!m || +m[1] > +m[2]) throw new UsageError(`${flag} expects FIRST-LAST (e.g. 0-15), got "${raw}"`);
  return [+m[1], +m[2]];
}

function fineTuneType(raw: string, flag: string): 'lora' | 'full' {
  if (raw === 'lora' || raw === 'full') return raw;
  if (raw === 'dora') throw new UsageError(`${flag} dora is not supported (DoRA); use lora or full`);
  throw new UsageError(`${flag} expects lora | full, got "${raw}"`);
}

export const trainSpec: CommandSpec = {
  name: 'train',
  summary: 'fine-tune with LoRA or fully: sft, dpo, orpo, cpo, simpo, kto, grpo, rlvr',
  flags: [...methodFlags, ...grpoFlags, ...modelFlags, ...dataFlags, ...loraFlags, ...trainingFlags, ...runFlags, ...trainBackendFlags, ...trainingBackendFlags],
  after: 'example: wgrad train --model stories260K-hf --data alpaca_tiny.json --output-dir out --iters 200',
  run: (o, _args, cmd) => trainCommand(o, cmd),
};

async function trainCommand(o: Record<string, unknown>, cmd: Command): Promise<void> {
  let configBackend: unknown;
  if (o.config) {
    let raw: unknown;
    try { raw = parseYaml(readFileSync(o.config as string, 'utf8')); } catch (e) { throw new UsageError(`--config ${o.config}: ${(e as Error).message}`); }
    // backend: {type, device, base_url} is a section, not a flag (llm/backends/registry.ts).
    if (raw && typeof raw === 'object' && 'backend' in raw && typeof (raw as Record<string, unknown>).backend === 'object') {
      configBackend = (raw as Record<string, unknown>).backend;
      raw = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k]) => k !== 'backend'));
    }
    applyConfig(cmd, raw, o.config as string);
    o = cmd.opts();
  }
  const remote = remoteBackendChoice(o, configBackend, o.config as string | undefined);
  if (remote) return trainOnBackend(o, cmd, remote);
  if (o.backend === undefined) o = { ...o, backend: localDevice(configBackend, o.config as string | undefined) };
  if (o.method === 'reinforcement') throw new UsageError('--method reinforcement runs on OpenAI\'s graders (--backend openai); see `wgrad doctor` for what runs where');
  for (const req of ['model', 'data', 'outputDir']) {
    if (!o[req]) throw new UsageError(`--${req.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required (see wgrad train --help)`);
  }
  const full = !!o.full || o.fineTuneType === 'full';
  if (o.full && o.fineTuneType === 'lora') throw new UsageError('--full and --fine-tune-type lora contradict each other');
  if (o.loraLayers !== undefined && o.numLayers !== undefined) throw new UsageError('--lora-layers and --num-layers both choose layers; give one');
  const method = o.method as TrainSettings['method'];
  const out = o.outputDir as string;
  const rl = (GRPO_METHOD_NAMES as readonly string[]).includes(method!);
  if (!rl && o.lossType !== undefined && !(DPO_LOSS_TYPES as readonly string[]).includes(o.lossType as string)) {
    throw new UsageError(`--loss-type ${o.lossType} is a GRPO loss; ${method} takes ${method === 'dpo' ? DPO_LOSS_TYPES.join(' | ') : 'none (only dpo and grpo/rlvr have loss types)'}`);
  }
  if (!rl && o.beta !== undefined && !((o.beta as number) > 0)) throw new UsageError(`--beta ${o.beta}: ${method} needs β > 0`);

  checkOutputDir(out, '--output-dir');
  if (o.adapterPath) checkOutputDir(o.adapterPath as string, '--adapter-path');
  await checkRun(out, o);
  const paths = resolveModelPaths(o.model as string, o.tokenizer as string | undefined);
  const maxSteps = (o.maxSteps as number | undefined) ?? 100;
  if (o.numTrainEpochs !== undefined && o.maxSteps !== undefined) throw new UsageError('--num-train-epochs and --max-steps both set the length of the run; give one');
  if (o.numTrainEpochs === undefined && (o.warmupSteps as number) > maxSteps) throw new UsageError(`--warmup-steps ${o.warmupSteps} exceeds --max-steps ${maxSteps}`);
  // Everything but --max-length's default (the model's positions) and --num-layers (its layer
  // count), which the local backend and prepare() below settle once the model is loaded.
  const settings: TrainSettings = {
    method,
    preference: {
      beta: o.beta as number | undefined, lossType: o.lossType as DpoLossType, labelSmoothing: o.labelSmoothing as number | undefined,
      rpoAlpha: o.rpoAlpha as number | undefined, cpoAlpha: o.cpoAlpha as number | undefined, gamma: o.simpoGamma as number | undefined,
      desirableWeight: o.desirableWeight as number | undefined, undesirableWeight: o.undesirableWeight as number | undefined,
    },
    maxPromptLength: o.maxPromptLength as number | undefined, truncationMode: o.truncationMode as TrainSettings['truncationMode'],
    precomputeRef: !!o.precomputeRef,
    ...(rl ? grpoSettings(o) : {}),
    data: o.data as string, valid: o.valid as string | undefined, valFraction: o.valFraction as number,
    maxSteps, epochs: o.numTrainEpochs as number | undefined,
    batchSize: o.batchSize as number, gradAccum: o.gradAccum as number,
    learningRate: o.learningRate as number, schedule: o.lrSchedule as TrainSettings['schedule'], warmupSteps: o.warmupSteps as number,
    optimizer: o.optimizer as TrainSettings['optimizer'], weightDecay: o.weightDecay as number, maxGradNorm: o.maxGradNorm as number,
    seed: o.seed as number, maxLength: o.maxLength as number | undefined,
    packing: !!o.packing, completionOnly: !o.trainOnPrompt, skipInvalid: !!o.skipInvalid, chatTemplate: o.chatTemplate as string | undefined,
    lora: full ? null : {
      r: o.loraR as number, alpha: o.loraAlpha as number, dropout: o.loraDropout as number, rslora: !!o.rslora,
      targets: o.loraTargets as string[], layers: o.loraLayers as [number, number] | undefined,
    },
    evalEvery: o.evalEvery as number, saveEvery: o.saveEvery as number, saveTotalLimit: o.saveTotalLimit as number | undefined,
    outputDir: out, resume: !!o.resume,
  };
  const { method: _m, data: _d, outputDir: _o, resume: _r, ...options } = settings;
  const config: RunConfig = { method: method as RunConfig['method'], model: paths.model, data: settings.data, outputDir: out, options: { ...options, tokenizer: paths.tokenizer } };

  const backend = await openBackend(o);
  const stop = stopOnSignals();
  const local = createLocalBackend({ compute: backend });
  let progress: Progress | null = null;
  let divergence: DivergenceMonitor | null = null;
  let run: PreparedRun | null = null;
  try {
    await local.validate(config).catch(usage);
    // The folder passed checkRun: a job.json here is left from an attempt that failed before its run began.
    if (!o.resume) await rm(join(out, JOB_FILE), { force: true });
    const numLayers = o.numLayers as number | undefined;
    const prepare = async (s: TrainSettings, model: LlamaForCausalLM): Promise<TrainSettings> => {
      const cfg = model.config;
      if (numLayers !== undefined && numLayers !== -1) {
        if (numLayers > cfg.numLayers) throw new UsageError(`--num-layers ${numLayers}: the model has ${cfg.numLayers} layers`);
        s = { ...s, lora: s.lora && { ...s.lora, layers: [cfg.numLayers - numLayers, cfg.numLayers - 1] } };
      }
      run = await prepareRun(out, cmd, { ...o, maxLength: s.maxLength }, paths, backend.description);
      progress = progressReporter({ method: method!, maxSteps: s.maxSteps, logEvery: o.logEvery as number });
      divergence = new DivergenceMonitor({ vocabSize: method === 'sft' ? cfg.vocabSize : undefined });
      return s;
    };
    const diverged = (msg: string | null) => {
      if (msg === null) return;
      progress!.stop();
      log(`wgrad: warning: training diverges: ${msg}${o.stopOnDivergence ? '; stopping (--stop-on-divergence)' : ' (--stop-on-divergence stops here)'}`);
      if (o.stopOnDivergence) stop.controller.abort({ divergence: msg, checkpoint: false });
    };
    let last: StepRecord | null = null, lastStep: number | null = null, evalLoss: number | null = null;
    const onEvent = (e: JobEvent) => {
      if (e.type === 'log') log(e.message);
      else if (e.type === 'progress') { lastStep = e.step; if (e.totalSteps !== undefined) progress?.start({ maxSteps: e.totalSteps }); }
      else if (e.type === 'metrics' && e.phase === 'train') {
        last = e.record as StepRecord;
        progress!.step(last);
        diverged(divergence!.step(last.step, last.loss));
      } else if (e.type === 'metrics' && e.phase === 'eval') {
        const r = e.record as EvalRecord;
        evalLoss = r.eval_loss;
        progress!.eval(r);
        diverged(divergence!.eval(r.step, r.eval_loss));
      }
    };
    const job = await local.start(config, {
      onEvent, signal: stop.controller.signal,
      local: {
        prepare, resume: !!o.resume, mlxAdapterDir: o.adapterPath as string | undefined, tokenizerFrom: paths.format === 'hf' ? paths.model : null,
        onData: async (summary) => { await updateRunRecord(out, { data_summary: summary }); },
      },
    });
    const result = await job.done.catch((e) => { throw usage(fsContext(e, out)); }).finally(() => progress?.stop());
    const prepared = run as PreparedRun | null;
    const div = divergence as DivergenceMonitor | null;
    const step = lastStep ?? prepared?.step ?? 0;
    const reason = (result.status === 'cancelled' ? stop.controller.signal.reason : undefined) as { signal?: NodeJS.Signals; divergence?: string } | undefined;
    await updateRunRecord(out, { ended: { at: new Date().toISOString(), step, ...(reason?.signal ? { signal: reason.signal } : {}), ...(div?.diagnosis ? { diverged: div.diagnosis } : {}) } });
    if (reason?.signal) {
      throw new Exit(reason.signal === 'SIGINT' ? 130 : 143,
        `stopped by ${reason.signal} after step ${step}; checkpoint written to ${join(out, 'checkpoints')}. Continue with:\n  ${resumeCommand()}`);
    }
    if (reason?.divergence) {
      const good = await checkpointBefore(join(out, 'checkpoints'), div?.since ?? step);
      throw new Exit(1, `stopped at step ${step}: training diverged from step ${div?.since}; the last good checkpoint is ${good ?? '(none yet)'}`);
    }
    if (settings.lora) {
      log(`wgrad: adapter written to ${join(out, 'adapter')} (PEFT) and ${(o.adapterPath as string | undefined) ?? join(out, 'adapter-mlx')} (mlx-lm)`);
    } else {
      log(`wgrad: model written to ${join(out, 'model')}`);
    }
    const lastRec = last as StepRecord | null, finalEval = evalLoss as number | null;
    log(`wgrad: ${prepared?.step ? `steps ${prepared.step + 1}-${step}` : `${step} steps`}, final loss ${lastRec ? lastRec.loss.toFixed(4) : '-'}${finalEval !== null ? `, eval loss ${finalEval.toFixed(4)}` : ''}`);
    if (div?.diagnosis) log(`wgrad: warning: training diverged: ${div.diagnosis}`);
  } finally {
    (progress as Progress | null)?.stop();
    stop.dispose();
    backend.destroy();
  }
}

/** The local backend's ConfigErrors are usage errors on the command line (exit 2). */
function usage(e: unknown): never {
  throw e instanceof ConfigError ? new UsageError(e.message) : e;
}
