// The training options by the names `wgrad train` and its YAML configs use (learning-rate, lora-r,
// ...), with their defaults, turned into TrainSettings with errors that name the option. The web
// app's settings form, its YAML import/export and its worker use this table, so a run set up in a
// tab repeats headless with `wgrad train --config run.yaml`.
import { DPO_LOSS_TYPES, type DpoLossType } from '../methods/dpo.ts';
import { PREFERENCE_METHODS, type PreferenceMethod } from './preference.ts';
import type { TrainSettings } from './run.ts';

export type OptionValue = string | number | boolean;

export interface TrainOption {
  name: string;
  kind: 'number' | 'integer' | 'boolean' | 'string' | 'choice';
  /** undefined: unset unless given. */
  default?: OptionValue;
  choices?: readonly string[];
  help: string;
}

/** The options the app exposes, as `wgrad train` names and defaults them (cli/commands/train.ts). */
export const TRAIN_OPTIONS: readonly TrainOption[] = [
  { name: 'method', kind: 'choice', default: 'sft', choices: ['sft', ...PREFERENCE_METHODS], help: 'sft, or a preference method (TRL 1.x losses)' },
  { name: 'full', kind: 'boolean', default: false, help: 'full fine-tuning instead of LoRA' },
  { name: 'max-steps', kind: 'integer', default: 100, help: 'optimizer steps' },
  { name: 'batch-size', kind: 'integer', default: 4, help: 'examples per micro-batch' },
  { name: 'grad-accum', kind: 'integer', default: 1, help: 'micro-batches per step' },
  { name: 'learning-rate', kind: 'number', default: 1e-4, help: 'peak learning rate' },
  { name: 'lr-schedule', kind: 'choice', default: 'cosine', choices: ['constant', 'linear', 'cosine'], help: 'learning-rate schedule' },
  { name: 'warmup-steps', kind: 'integer', default: 0, help: 'linear warmup steps' },
  { name: 'optimizer', kind: 'choice', default: 'adamw', choices: ['adamw', 'sgd', 'lion'], help: 'optimizer' },
  { name: 'weight-decay', kind: 'number', default: 0, help: 'decoupled weight decay' },
  { name: 'max-grad-norm', kind: 'number', default: 1, help: 'global-norm clipping' },
  { name: 'max-length', kind: 'integer', help: "truncate examples to this many tokens (default: min(1024, the model's positions))" },
  { name: 'packing', kind: 'boolean', default: false, help: 'pack examples into rows of max-length tokens' },
  { name: 'train-on-prompt', kind: 'boolean', default: false, help: 'loss on every token, not only completions' },
  { name: 'val-fraction', kind: 'number', default: 0, help: 'hold out this share of the rows for eval' },
  { name: 'eval-every', kind: 'integer', default: 50, help: 'steps between evaluations' },
  { name: 'save-every', kind: 'integer', default: 100, help: 'steps between checkpoints' },
  { name: 'seed', kind: 'integer', default: 0, help: 'seed of shuffling, LoRA init and dropout' },
  { name: 'lora-r', kind: 'integer', default: 8, help: 'LoRA rank' },
  { name: 'lora-alpha', kind: 'number', default: 16, help: 'LoRA alpha' },
  { name: 'lora-dropout', kind: 'number', default: 0, help: 'LoRA dropout' },
  { name: 'lora-targets', kind: 'string', default: 'q_proj,v_proj', help: 'modules LoRA wraps (comma-separated)' },
  { name: 'rslora', kind: 'boolean', default: false, help: 'rank-stabilised LoRA scale' },
  { name: 'chat-template', kind: 'string', help: 'template for messages rows when the tokenizer has none (e.g. chatml)' },
  { name: 'beta', kind: 'number', help: 'preference methods: β (default 0.1)' },
  { name: 'loss-type', kind: 'choice', choices: DPO_LOSS_TYPES, help: 'dpo loss (default sigmoid)' },
  { name: 'label-smoothing', kind: 'number', help: 'dpo/cpo/simpo: ε' },
  { name: 'simpo-gamma', kind: 'number', help: 'simpo: target margin γ' },
  { name: 'max-prompt-length', kind: 'integer', help: 'preference data: longest prompt' },
];

const BY_NAME = new Map(TRAIN_OPTIONS.map((o) => [o.name, o]));

/** Option values keyed by name; YAML keys may use _ for - (learning_rate). */
export type TrainOptionValues = Record<string, OptionValue | undefined>;

/** Checks names and types; `where` names the source in errors ("run.yaml", "the settings form"). */
export function checkTrainOptions(raw: Record<string, unknown>, where: string): TrainOptionValues {
  const out: TrainOptionValues = {};
  for (const [k, v] of Object.entries(raw)) {
    const name = k.replace(/_/g, '-');
    const o = BY_NAME.get(name);
    if (!o) throw new Error(`${where}: unknown option "${k}" (known: ${TRAIN_OPTIONS.map((x) => x.name).join(', ')})`);
    if (v === undefined || v === null || v === '') continue;
    const bad = (what: string) => new Error(`${where}: "${k}" expects ${what}, got ${JSON.stringify(v)}`);
    switch (o.kind) {
      case 'boolean':
        if (typeof v !== 'boolean') throw bad('true or false');
        out[name] = v;
        break;
      case 'number': case 'integer': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
        if (!Number.isFinite(n) || (o.kind === 'integer' && !Number.isInteger(n))) throw bad(o.kind === 'integer' ? 'an integer' : 'a number');
        out[name] = n;
        break;
      }
      case 'choice':
        if (!o.choices!.includes(String(v))) throw bad(o.choices!.join(' | '));
        out[name] = String(v);
        break;
      default:
        out[name] = Array.isArray(v) ? v.join(',') : String(v);
    }
  }
  return out;
}

/** The value of an option, or its default. */
export function optionValue(v: TrainOptionValues, name: string): OptionValue | undefined {
  return v[name] ?? BY_NAME.get(name)?.default;
}

/** TrainSettings for data at `data`, writing to `outputDir`, with the ranges `wgrad train` enforces. */
export function trainSettingsFromOptions(v: TrainOptionValues, where: string, paths: { data: string; outputDir?: string; resume?: boolean; maxPositions?: number }): TrainSettings {
  const get = (n: string) => optionValue(v, n);
  const num = (n: string, what: string, ok: (x: number) => boolean): number => {
    const x = get(n) as number;
    if (!ok(x)) throw new Error(`${where}: "${n}" expects ${what}, got ${x}`);
    return x;
  };
  const opt = (n: string, what: string, ok: (x: number) => boolean) => (get(n) === undefined ? undefined : num(n, what, ok));
  const pos = (x: number) => x > 0;
  const posInt = (x: number) => Number.isInteger(x) && x > 0;
  const method = get('method') as 'sft' | PreferenceMethod;
  return {
    method,
    preference: {
      beta: opt('beta', 'a positive number', pos), lossType: get('loss-type') as DpoLossType,
      labelSmoothing: opt('label-smoothing', 'a number in [0, 0.5)', (x) => x >= 0 && x < 0.5),
      gamma: opt('simpo-gamma', 'a number', Number.isFinite),
    },
    maxPromptLength: opt('max-prompt-length', 'a positive integer', posInt),
    data: paths.data,
    valFraction: num('val-fraction', 'a fraction in [0, 1)', (x) => x >= 0 && x < 1),
    maxSteps: num('max-steps', 'a positive integer', posInt),
    batchSize: num('batch-size', 'a positive integer', posInt),
    gradAccum: num('grad-accum', 'a positive integer', posInt),
    learningRate: num('learning-rate', 'a positive number', pos),
    schedule: get('lr-schedule') as TrainSettings['schedule'],
    warmupSteps: num('warmup-steps', 'an integer ≥ 0', (x) => x >= 0),
    optimizer: get('optimizer') as TrainSettings['optimizer'],
    weightDecay: num('weight-decay', 'a number ≥ 0', (x) => x >= 0),
    maxGradNorm: num('max-grad-norm', 'a positive number', pos),
    seed: get('seed') as number,
    maxLength: get('max-length') === undefined ? Math.min(1024, paths.maxPositions ?? 1024) : num('max-length', 'a positive integer', posInt),
    packing: get('packing') as boolean,
    completionOnly: !get('train-on-prompt'),
    chatTemplate: get('chat-template') as string | undefined,
    lora: get('full') ? null : {
      r: num('lora-r', 'a positive integer', posInt), alpha: num('lora-alpha', 'a positive number', pos),
      dropout: num('lora-dropout', 'a probability in [0, 1)', (x) => x >= 0 && x < 1), rslora: get('rslora') as boolean,
      targets: String(get('lora-targets')).split(',').map((s) => s.trim()).filter(Boolean),
    },
    evalEvery: num('eval-every', 'a positive integer', posInt),
    saveEvery: num('save-every', 'a positive integer', posInt),
    outputDir: paths.outputDir,
    resume: paths.resume,
  };
}
