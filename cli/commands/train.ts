// wgrad train --method sft|dpo|orpo|cpo|simpo|kto: LoRA or full fine-tuning from the command line or
// a YAML config, writing metrics.jsonl, adapter/ (PEFT), adapter-mlx/ (mlx-lm) and checkpoints/ to
// --output-dir. Flag names follow TRL and mlx-lm (their spellings are aliases).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { saveAdapter, exportHfFolder } from '../../llm/adapters/index.ts';
import { runTraining, type TrainSettings } from '../../llm/train/run.ts';
import { DPO_LOSS_TYPES, type DpoLossType } from '../../llm/methods/dpo.ts';
import { PREFERENCE_METHODS } from '../../llm/train/preference.ts';
import {
  applyConfig, choice, Exit, fraction, integer, list, log, nonNegative, nonNegativeInt, number, positive, positiveInt, UsageError,
  type Command, type CommandSpec, type Flag,
} from '../args.ts';
import { openBackend } from '../backend.ts';
import { loadModelAndTokenizer } from '../load.ts';
import { chatTemplateFlag, modelFlags } from '../options.ts';
import { progressReporter, type Progress } from '../progress.ts';
import { checkOutputDir } from '../output-dir.ts';
import { checkRun, fsContext, prepareRun, resumeCommand, stopOnSignals } from '../run.ts';
import { formatDataSummary } from '../../llm/data/summary.ts';
import { DivergenceMonitor } from '../../llm/train/divergence.ts';
import { updateRunRecord } from '../../llm/train/run-dir.ts';
import { checkpointBefore } from '../../llm/train/checkpoint.ts';
import { localDevice, remoteBackendChoice, trainBackendFlags, trainingBackendFlags, trainOnBackend } from '../training-backend.ts';

const METHODS = ['sft', ...PREFERENCE_METHODS, 'reinforcement'] as const;

const methodFlags: Flag[] = [
  { flags: '--method <m>', help: 'sft; preference methods (TRL 1.x losses and metric names): dpo, orpo, cpo, simpo, kto; reinforcement (--backend openai)', default: 'sft', parse: choice(METHODS) },
  { flags: '--beta <b>', help: 'preference methods: β (default 0.1)', parse: positive },
  { flags: '--loss-type <t>', help: 'dpo: sigmoid | robust | hinge | ipo', default: 'sigmoid', parse: choice(DPO_LOSS_TYPES) },
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
  { flags: '--valid <file>', help: 'validation data (default: DIR/valid.*, else --val-fraction)' },
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
  summary: 'fine-tune with LoRA or fully: sft, dpo, orpo, cpo, simpo, kto',
  flags: [...methodFlags, ...modelFlags, ...dataFlags, ...loraFlags, ...trainingFlags, ...runFlags, ...trainBackendFlags, ...trainingBackendFlags],
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

  checkOutputDir(out, '--output-dir');
  if (o.adapterPath) checkOutputDir(o.adapterPath as string, '--adapter-path');
  await checkRun(out, o);

  const backend = await openBackend(o);
  const stop = stopOnSignals();
  let progress: Progress | null = null;
  try {
    const { model, tokenizer, paths } = await loadModelAndTokenizer(o, backend);
    const cfg = model.config;
    const maxLength = (o.maxLength as number | undefined) ?? Math.min(1024, cfg.maxPositions);
    if (maxLength > cfg.maxPositions) throw new UsageError(`--max-length ${maxLength} exceeds the model's ${cfg.maxPositions} positions`);
    if ((o.maxPromptLength as number | undefined) !== undefined && (o.maxPromptLength as number) >= maxLength) {
      throw new UsageError(`--max-prompt-length ${o.maxPromptLength} must be smaller than --max-length ${maxLength}`);
    }
    let layers = o.loraLayers as [number, number] | undefined;
    if (layers && layers[1] >= cfg.numLayers) throw new UsageError(`--lora-layers ${layers.join('-')}: the model has layers 0-${cfg.numLayers - 1}`);
    const numLayers = o.numLayers as number | undefined;
    if (numLayers !== undefined && numLayers !== -1) {
      if (numLayers > cfg.numLayers) throw new UsageError(`--num-layers ${numLayers}: the model has ${cfg.numLayers} layers`);
      layers = [cfg.numLayers - numLayers, cfg.numLayers - 1];
    }
    const maxSteps = (o.maxSteps as number | undefined) ?? 100;
    if (o.numTrainEpochs !== undefined && o.maxSteps !== undefined) throw new UsageError('--num-train-epochs and --max-steps both set the length of the run; give one');
    if (o.numTrainEpochs === undefined && (o.warmupSteps as number) > maxSteps) throw new UsageError(`--warmup-steps ${o.warmupSteps} exceeds --max-steps ${maxSteps}`);
    const settings: TrainSettings = {
      method,
      preference: {
        beta: o.beta as number | undefined, lossType: o.lossType as DpoLossType, labelSmoothing: o.labelSmoothing as number | undefined,
        rpoAlpha: o.rpoAlpha as number | undefined, cpoAlpha: o.cpoAlpha as number | undefined, gamma: o.simpoGamma as number | undefined,
        desirableWeight: o.desirableWeight as number | undefined, undesirableWeight: o.undesirableWeight as number | undefined,
      },
      maxPromptLength: o.maxPromptLength as number | undefined, truncationMode: o.truncationMode as TrainSettings['truncationMode'],
      precomputeRef: !!o.precomputeRef,
      data: o.data as string, valid: o.valid as string | undefined, valFraction: o.valFraction as number,
      maxSteps, epochs: o.numTrainEpochs as number | undefined,
      batchSize: o.batchSize as number, gradAccum: o.gradAccum as number,
      learningRate: o.learningRate as number, schedule: o.lrSchedule as TrainSettings['schedule'], warmupSteps: o.warmupSteps as number,
      optimizer: o.optimizer as TrainSettings['optimizer'], weightDecay: o.weightDecay as number, maxGradNorm: o.maxGradNorm as number,
      seed: o.seed as number, maxLength,
      packing: !!o.packing, completionOnly: !o.trainOnPrompt, skipInvalid: !!o.skipInvalid, chatTemplate: o.chatTemplate as string | undefined,
      lora: full ? null : {
        r: o.loraR as number, alpha: o.loraAlpha as number, dropout: o.loraDropout as number, rslora: !!o.rslora,
        targets: o.loraTargets as string[], layers,
      },
      evalEvery: o.evalEvery as number, saveEvery: o.saveEvery as number, saveTotalLimit: o.saveTotalLimit as number | undefined,
      outputDir: out, resume: !!o.resume,
    };
    const run = await prepareRun(out, cmd, { ...o, maxLength }, paths, backend.description);
    progress = progressReporter({ method: method!, maxSteps: settings.maxSteps, logEvery: o.logEvery as number });
    const divergence = new DivergenceMonitor({ vocabSize: method === 'sft' ? cfg.vocabSize : undefined });
    const diverged = (msg: string | null) => {
      if (msg === null) return;
      progress!.stop();
      log(`wgrad: warning: training diverges: ${msg}${o.stopOnDivergence ? '; stopping (--stop-on-divergence)' : ' (--stop-on-divergence stops here)'}`);
      if (o.stopOnDivergence) stop.controller.abort({ divergence: msg, checkpoint: false });
    };
    const p = progress;
    const r = await runTraining(model, tokenizer, settings, {
      onData: async (summary) => {
        for (const line of formatDataSummary(summary)) log(line);
        await updateRunRecord(out, { data_summary: summary });
      },
      onStart: p.start,
      onStep: (rec) => { p.step(rec); diverged(divergence.step(rec.step, rec.loss)); },
      onEval: (e) => { p.eval(e); diverged(divergence.eval(e.step, e.eval_loss)); },
      loadReference: async () => (await loadModelAndTokenizer(o, backend)).model,
      signal: stop.controller.signal,
      log,
    }).catch((e) => { throw fsContext(e, out); }).finally(() => p.stop());
    const last = r.records[r.records.length - 1];
    const step = r.trainer.step;
    const reason = r.stopped as { signal?: NodeJS.Signals; divergence?: string } | undefined;
    await updateRunRecord(out, { ended: { at: new Date().toISOString(), step, ...(reason?.signal ? { signal: reason.signal } : {}), ...(divergence.diagnosis ? { diverged: divergence.diagnosis } : {}) } });
    if (reason?.signal) {
      throw new Exit(reason.signal === 'SIGINT' ? 130 : 143,
        `stopped by ${reason.signal} after step ${step}; checkpoint written to ${join(out, 'checkpoints')}. Continue with:\n  ${resumeCommand()}`);
    }
    if (reason?.divergence) {
      const good = await checkpointBefore(join(out, 'checkpoints'), divergence.since ?? step);
      throw new Exit(1, `stopped at step ${step}: training diverged from step ${divergence.since}; the last good checkpoint is ${good ?? '(none yet)'}`);
    }
    if (r.lora) {
      const mlxDir = (o.adapterPath as string | undefined) ?? join(out, 'adapter-mlx');
      await saveAdapter(model, join(out, 'adapter'), { format: 'peft', baseModel: paths.model });
      await saveAdapter(model, mlxDir, { format: 'mlx', baseModel: paths.model });
      log(`wgrad: adapter written to ${join(out, 'adapter')} (PEFT) and ${mlxDir} (mlx-lm)`);
    } else {
      await exportHfFolder(model, join(out, 'model'), { tokenizerFrom: paths.format === 'hf' ? paths.model : undefined });
      log(`wgrad: model written to ${join(out, 'model')}`);
    }
    log(`wgrad: ${run.step ? `steps ${run.step + 1}-${step}` : `${step} steps`}, final loss ${last ? last.loss.toFixed(4) : '-'}${r.evalLoss !== null ? `, eval loss ${r.evalLoss.toFixed(4)}` : ''}`);
    if (divergence.diagnosis) log(`wgrad: warning: training diverged: ${divergence.diagnosis}`);
    model.dispose();
  } finally {
    progress?.stop();
    stop.dispose();
    backend.destroy();
  }
}
