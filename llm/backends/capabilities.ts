// Capabilities as data, used twice: to refuse a run a backend cannot do (before anything starts or
// is paid for), and to print the methods × backends matrix (wgrad doctor, train --backend X).
import { ConfigError, TRAINING_METHODS, type Capabilities, type RunConfig, type RunOption, type TrainingBackend } from './protocol.ts';

/** The flag a run option is set with, for messages. */
export const OPTION_FLAGS: Record<RunOption, string> = {
  preference: '--beta/--loss-type/...', maxPromptLength: '--max-prompt-length', truncationMode: '--truncation-mode',
  precomputeRef: '--precompute-ref', valid: '--valid', valFraction: '--val-fraction', maxSteps: '--max-steps',
  batchSize: '--batch-size', gradAccum: '--grad-accum', learningRate: '--learning-rate', schedule: '--lr-schedule',
  warmupSteps: '--warmup-steps', maxGradNorm: '--max-grad-norm', optimizer: '--optimizer', weightDecay: '--weight-decay',
  seed: '--seed', maxLength: '--max-length', packing: '--packing', completionOnly: '--train-on-prompt',
  skipInvalid: '--skip-invalid', chatTemplate: '--chat-template', lora: '--lora-*/--full', evalEvery: '--eval-every',
  saveEvery: '--save-every', saveTotalLimit: '--save-total-limit', epochs: '--epochs', suffix: '--suffix', grader: '--grader', tokenizer: '--tokenizer',
  warmupRatio: '--warmup-ratio', lrMultiplier: '--lr-multiplier', evals: '--evals',
};

/** Throws ConfigError naming the first thing `config` asks of `b` that its capabilities lack. */
export function checkAgainstCapabilities(b: Pick<TrainingBackend, 'name' | 'capabilities'>, config: RunConfig): void {
  const caps = b.capabilities;
  const m = caps.methods[config.method];
  if (!m) throw new ConfigError(`unknown method "${config.method}" (expected ${TRAINING_METHODS.join(', ')})`);
  if (m.level === 'no') throw new ConfigError(`backend ${b.name} cannot run --method ${config.method}: ${m.note ?? 'not supported'}\n${matrixRow(b.name, caps)}`);
  const o = config.options;
  // lora undefined: the backend's default (LoRA locally and on Together; OpenAI chooses itself).
  if (o.lora === null && !caps.training.includes('full')) throw new ConfigError(`backend ${b.name} cannot do full fine-tuning (--full)${caps.training.length ? `; it trains ${caps.training.join(', ')}` : ''}`);
  if (o.lora && !caps.training.includes('lora')) throw new ConfigError(`backend ${b.name} does not let you choose LoRA settings (--lora-*); remove them`);
  for (const [key, value] of Object.entries(o) as [RunOption, unknown][]) {
    if (value === undefined) continue;
    if (!(key in caps.options)) {
      throw new ConfigError(`backend ${b.name} has no equivalent of ${OPTION_FLAGS[key] ?? key}; remove it or use --backend local`);
    }
  }
}

/** One backend's row of the matrix, for error messages. */
export function matrixRow(name: string, caps: Capabilities): string {
  return `${name}: ` + TRAINING_METHODS.map((m) => `${m} ${cell(caps.methods[m].level)}`).join(', ');
}

const cell = (level: string) => (level === 'yes' ? '✓' : level === 'partial' ? '~' : '—');

/** The methods × backends table with its notes (why a cell is empty or partial), as text. */
export function capabilityMatrix(backends: readonly Pick<TrainingBackend, 'name' | 'capabilities'>[]): string {
  const names = backends.map((b) => b.name);
  const w0 = Math.max(...TRAINING_METHODS.map((m) => m.length), 'method'.length);
  const widths = names.map((n) => Math.max(n.length, 1));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(i === 0 ? w0 : widths[i - 1])).join('  ').trimEnd();
  const rows = [line(['method', ...names]), line(['-'.repeat(w0), ...widths.map((w) => '-'.repeat(w))])];
  const notes: string[] = [];
  for (const m of TRAINING_METHODS) {
    rows.push(line([m, ...backends.map((b) => cell(b.capabilities.methods[m].level))]));
    for (const b of backends) {
      const s = b.capabilities.methods[m];
      if (s.note) notes.push(`  ${m} on ${b.name} (${s.level}): ${s.note}`);
    }
  }
  rows.push('', 'training:  ' + backends.map((b) => `${b.name} ${b.capabilities.training.join('+') || 'chosen by the provider'}`).join('; '));
  rows.push('dtypes:    ' + backends.map((b) => `${b.name} ${b.capabilities.dtypes.join('/')}`).join('; '));
  rows.push('largest:   ' + backends.map((b) => `${b.name}: ${b.capabilities.largestModel}`).join('; '));
  rows.push('results:   ' + backends.map((b) => `${b.name}: ${b.capabilities.results}`).join('; '));
  return [...rows, '', '✓ supported, ~ partial, — not available:', ...notes].join('\n');
}
