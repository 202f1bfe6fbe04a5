// wgrad train --method sft|dpo|orpo|cpo|simpo|kto: LoRA or full fine-tuning from the command line or
// a YAML config, writing metrics.jsonl, adapter/ (PEFT), adapter-mlx/ (mlx-lm) and checkpoints/ to
// --output-dir.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { parse as parseYaml } from 'yaml';
import { createBackend, type BackendChoice } from '../../engine/index.ts';
import { saveAdapter, exportHfFolder } from '../../llm/adapters/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining, type TrainSettings } from '../../llm/train/run.ts';
import { DPO_LOSS_TYPES, type DpoLossType } from '../../llm/methods/dpo.ts';
import { PREFERENCE_METHODS, type PreferenceMethod } from '../../llm/train/preference.ts';
import { log, numberFlag, parse, UsageError } from '../args.ts';

export const trainHelp = `wgrad train --method sft|dpo|orpo|cpo|simpo|kto --model PATH --data FILE --output-dir DIR [options]
  --method M                 sft (default); preference methods (TRL 1.x losses and metric names):
                             dpo, orpo, cpo, simpo, kto
  --beta B                   preference methods: β (default 0.1)
  --loss-type T              dpo: sigmoid | robust | hinge | ipo (default sigmoid)
  --label-smoothing E        dpo (cDPO/robust), cpo, simpo: ε (default 0)
  --rpo-alpha A              dpo: add A × NLL of the chosen completions (RPO)
  --cpo-alpha A              cpo/simpo: weight of the chosen NLL (default 1 for cpo, 0 for simpo)
  --simpo-gamma G            simpo: target margin γ (default 0.5)
  --desirable-weight W --undesirable-weight W   kto (default 1, 1)
  --max-prompt-length N      preference data: longest prompt when a pair exceeds --max-length
  --truncation-mode M        keep_start (default) | keep_end
  --precompute-ref           dpo: reference log-probs computed once before training
  --model PATH               Hugging Face folder or llama2.c .bin (then --tokenizer)
  --tokenizer PATH           tokenizer.json / tokenizer.bin (default: the model folder's)
  --data FILE|DIR            JSONL, JSON, CSV, Parquet (or a folder with train.* / valid.*)
  --valid FILE               validation data (default: DIR/valid.*, else --val-fraction)
  --val-fraction F           hold out this share of the training rows (default 0)
  --output-dir DIR           metrics.jsonl, adapter/ (PEFT), adapter-mlx/ (mlx-lm), checkpoints/
  --max-steps N              optimizer steps (alias --iters) (default 100)
  --batch-size B             examples per micro-batch (default 4)
  --grad-accum N             micro-batches per step (default 1)
  --learning-rate LR         peak learning rate (default 1e-4)
  --lr-schedule S            constant | linear | cosine (default cosine), --warmup-steps N
  --optimizer O              adamw | sgd | lion (default adamw), --weight-decay W
  --max-grad-norm X          global-norm clipping (default 1)
  --max-length N             truncate examples to N tokens (default 1024)
  --packing                  pack examples into rows of --max-length tokens
  --train-on-prompt          loss on every token, not only completions
  --skip-invalid             skip malformed rows (counted) instead of stopping
  --chat-template NAME|JINJA template for messages rows when the tokenizer has none (e.g. chatml)
  --lora-r R --lora-alpha A --lora-dropout P --lora-targets q_proj,v_proj|all-linear --lora-layers FIRST-LAST --rslora
  --full                     full fine-tuning instead of LoRA (writes model/ as a Hugging Face folder)
  --eval-every N --save-every N   (alias --steps-per-eval, --save-every)
  --resume                   continue from the newest checkpoint in DIR/checkpoints
  --adapter-path DIR         mlx-lm alias: where to write the mlx-lm adapter (default DIR/adapter-mlx)
  --seed S  --backend cpu|webgpu|auto  --config FILE.yaml (same keys as the flags)`;

const flags = {
  config: { type: 'string' }, method: { type: 'string' }, model: { type: 'string' }, tokenizer: { type: 'string' },
  data: { type: 'string' }, valid: { type: 'string' }, 'val-fraction': { type: 'string' }, 'output-dir': { type: 'string' },
  'max-steps': { type: 'string' }, iters: { type: 'string' }, 'batch-size': { type: 'string' }, 'grad-accum': { type: 'string' },
  'learning-rate': { type: 'string' }, 'lr-schedule': { type: 'string' }, 'warmup-steps': { type: 'string' },
  optimizer: { type: 'string' }, 'weight-decay': { type: 'string' }, 'max-grad-norm': { type: 'string' },
  'max-length': { type: 'string' }, packing: { type: 'boolean' }, 'train-on-prompt': { type: 'boolean' },
  'skip-invalid': { type: 'boolean' }, 'chat-template': { type: 'string' }, 'lora-r': { type: 'string' },
  'lora-alpha': { type: 'string' }, 'lora-dropout': { type: 'string' }, 'lora-targets': { type: 'string' },
  'lora-layers': { type: 'string' }, rslora: { type: 'boolean' }, full: { type: 'boolean' }, 'eval-every': { type: 'string' },
  'steps-per-eval': { type: 'string' }, 'save-every': { type: 'string' }, resume: { type: 'boolean' },
  'adapter-path': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
  beta: { type: 'string' }, 'loss-type': { type: 'string' }, 'label-smoothing': { type: 'string' }, 'rpo-alpha': { type: 'string' },
  'cpo-alpha': { type: 'string' }, 'simpo-gamma': { type: 'string' }, 'desirable-weight': { type: 'string' },
  'undesirable-weight': { type: 'string' }, 'max-prompt-length': { type: 'string' }, 'truncation-mode': { type: 'string' },
  'precompute-ref': { type: 'boolean' },
} as const;

type Values = Record<string, string | boolean | undefined>;

/** YAML keys may use the flag names with - or _ (learning_rate or learning-rate). */
function readConfig(path: string): Values {
  let raw: unknown;
  try { raw = parseYaml(readFileSync(path, 'utf8')); } catch (e) { throw new UsageError(`wgrad train: --config ${path}: ${(e as Error).message}`); }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`wgrad train: --config ${path}: expected a mapping of option names to values`);
  const out: Values = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = k.replace(/_/g, '-');
    if (!(key in flags) || key === 'config') throw new UsageError(`wgrad train: --config ${path}: unknown key "${k}"`);
    const isBool = (flags as Record<string, { type: string }>)[key].type === 'boolean';
    if (isBool && typeof v !== 'boolean') throw new UsageError(`wgrad train: --config ${path}: "${k}" must be true or false`);
    out[key] = isBool ? (v as boolean) : Array.isArray(v) ? v.join(',') : String(v);
  }
  return out;
}

export async function trainCommand(argv: string[]): Promise<void> {
  const { values: cli } = parse('train', argv, flags);
  if (cli.help) { console.log(trainHelp); return; }
  const v: Values = { ...(cli.config ? readConfig(cli.config as string) : {}), ...cli };
  const str = (k: string) => v[k] as string | undefined;
  const num = (k: string, d: number, what = 'a number', ok?: (n: number) => boolean) => numberFlag('train', k, str(k), d, what, ok);
  const int = (k: string, d: number) => num(k, d, 'a positive integer', (n) => Number.isInteger(n) && n > 0);
  const method = str('method') ?? 'sft';
  if (method !== 'sft' && !PREFERENCE_METHODS.includes(method as PreferenceMethod)) {
    throw new UsageError(`wgrad train: unknown --method "${method}" (expected sft, ${PREFERENCE_METHODS.join(', ')})`);
  }
  const lossType = str('loss-type') ?? 'sigmoid';
  if (!DPO_LOSS_TYPES.includes(lossType as DpoLossType)) throw new UsageError(`wgrad train: --loss-type expects ${DPO_LOSS_TYPES.join(', ')}, got "${lossType}"`);
  const truncation = str('truncation-mode') ?? 'keep_start';
  if (truncation !== 'keep_start' && truncation !== 'keep_end') throw new UsageError(`wgrad train: --truncation-mode expects keep_start or keep_end, got "${truncation}"`);
  const opt = (k: string, what: string, ok: (n: number) => boolean) => (str(k) === undefined ? undefined : num(k, 0, what, ok));
  for (const req of ['model', 'data', 'output-dir']) if (!str(req)) throw new UsageError(`wgrad train: --${req} is required\n\n${trainHelp}`);
  const out = str('output-dir')!;
  const layers = str('lora-layers');
  let layerRange: [number, number] | undefined;
  if (layers) {
    const m = /^(\d+)-(\d+)$/.exec(layers);
    if (!m || +m[1] > +m[2]) throw new UsageError(`wgrad train: --lora-layers expects FIRST-LAST (e.g. 0-15), got "${layers}"`);
    layerRange = [+m[1], +m[2]];
  }
  const schedule = str('lr-schedule') ?? 'cosine';
  if (!['constant', 'linear', 'cosine'].includes(schedule)) throw new UsageError(`wgrad train: --lr-schedule expects constant, linear or cosine, got "${schedule}"`);
  const settings: TrainSettings = {
    method: method as TrainSettings['method'],
    preference: {
      beta: opt('beta', 'a positive number', (n) => n > 0), lossType: lossType as DpoLossType,
      labelSmoothing: opt('label-smoothing', 'a number in [0, 0.5)', (n) => n >= 0 && n < 0.5),
      rpoAlpha: opt('rpo-alpha', 'a number ≥ 0', (n) => n >= 0), cpoAlpha: opt('cpo-alpha', 'a number ≥ 0', (n) => n >= 0),
      gamma: opt('simpo-gamma', 'a number', Number.isFinite),
      desirableWeight: opt('desirable-weight', 'a positive number', (n) => n > 0), undesirableWeight: opt('undesirable-weight', 'a positive number', (n) => n > 0),
    },
    maxPromptLength: str('max-prompt-length') === undefined ? undefined : int('max-prompt-length', 512),
    truncationMode: truncation, precomputeRef: !!v['precompute-ref'],
    data: str('data')!, valid: str('valid'), valFraction: num('val-fraction', 0, 'a fraction in [0, 1)', (n) => n >= 0 && n < 1),
    maxSteps: str('iters') !== undefined ? int('iters', 100) : int('max-steps', 100),
    batchSize: int('batch-size', 4), gradAccum: int('grad-accum', 1),
    learningRate: num('learning-rate', 1e-4, 'a positive number', (n) => n > 0),
    schedule: schedule as TrainSettings['schedule'], warmupSteps: num('warmup-steps', 0, 'an integer ≥ 0', (n) => Number.isInteger(n) && n >= 0),
    optimizer: (str('optimizer') ?? 'adamw') as TrainSettings['optimizer'], weightDecay: num('weight-decay', 0, 'a number ≥ 0', (n) => n >= 0),
    maxGradNorm: num('max-grad-norm', 1, 'a positive number', (n) => n > 0),
    seed: num('seed', 0, 'an integer', Number.isInteger), maxLength: int('max-length', 1024),
    packing: !!v.packing, completionOnly: !v['train-on-prompt'], skipInvalid: !!v['skip-invalid'], chatTemplate: str('chat-template'),
    lora: v.full ? null : {
      r: int('lora-r', 8), alpha: num('lora-alpha', 16, 'a positive number', (n) => n > 0),
      dropout: num('lora-dropout', 0, 'a probability in [0, 1)', (n) => n >= 0 && n < 1), rslora: !!v.rslora,
      targets: (str('lora-targets') ?? 'q_proj,v_proj').split(',').map((s) => s.trim()).filter(Boolean), layers: layerRange,
    },
    evalEvery: str('steps-per-eval') !== undefined ? int('steps-per-eval', 50) : int('eval-every', 50),
    saveEvery: int('save-every', 100), outputDir: out, resume: !!v.resume,
  };
  if (!['adamw', 'sgd', 'lion'].includes(settings.optimizer!)) throw new UsageError(`wgrad train: --optimizer expects adamw, sgd or lion, got "${settings.optimizer}"`);

  const backend = await createBackend({ backend: str('backend') as BackendChoice | undefined });
  try {
    log(`wgrad: backend ${backend.description}`);
    const modelPath = str('model')!;
    const tokenizer = await loadTokenizer(str('tokenizer') ?? (modelPath.endsWith('.bin') ? join(modelPath, '..', 'tokenizer.bin') : modelPath));
    const { model } = await loadLlama(modelPath, { backend });
    const pref = method !== 'sft';
    const bar = new SingleBar({
      format: `${method} |{bar}| {value}/{total} steps | loss {loss}${pref ? ' | margins {margins} | acc {acc}' : ''} | {tps} tok/s | ETA {eta_formatted}`,
      hideCursor: true, stream: process.stderr,
    });
    bar.start(settings.maxSteps, 0, { loss: '-', tps: '-', margins: '-', acc: '-' });
    const fmt = (x: number | null | undefined) => (x === undefined || x === null ? '-' : x.toFixed(3));
    const r = await runTraining(model, tokenizer, settings, {
      onStep: (rec) => bar.update(rec.step, { loss: rec.loss.toFixed(4), tps: rec.tokens_per_second.toFixed(0), margins: fmt(rec['rewards/margins']), acc: fmt(rec['rewards/accuracies']) }),
      onEval: (e) => log(`\neval step ${e.step}: ` + Object.entries(e).filter(([k]) => k !== 'step').map(([k, x]) => `${k} ${x.toFixed(4)}`).join(', ')),
      loadReference: async () => (await loadLlama(modelPath, { backend })).model,
      log,
    }).finally(() => bar.stop());
    if (r.lora) {
      await saveAdapter(model, join(out, 'adapter'), { format: 'peft', baseModel: modelPath });
      await saveAdapter(model, str('adapter-path') ?? join(out, 'adapter-mlx'), { format: 'mlx', baseModel: modelPath });
      log(`wgrad: adapter written to ${join(out, 'adapter')} (PEFT) and ${str('adapter-path') ?? join(out, 'adapter-mlx')} (mlx-lm)`);
    } else {
      await exportHfFolder(model, join(out, 'model'), { tokenizerFrom: modelPath.endsWith('.bin') ? undefined : modelPath });
      log(`wgrad: model written to ${join(out, 'model')}`);
    }
    const last = r.records[r.records.length - 1];
    log(`wgrad: ${r.records.length} steps, final loss ${last ? last.loss.toFixed(4) : '-'}${r.evalLoss !== null ? `, eval loss ${r.evalLoss.toFixed(4)}` : ''}`);
    model.dispose();
  } finally {
    backend.destroy();
  }
}
