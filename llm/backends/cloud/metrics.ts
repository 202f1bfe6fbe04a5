// Provider metrics under the names a local run writes to metrics.jsonl (llm/train/trainer.ts:
// step, loss, lr, grad_norm, epoch, eval_loss; TRL's mean_token_accuracy). Names with no local
// counterpart are kept as the provider spells them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const LOCAL_NAMES: Record<string, string> = {
  // OpenAI metrics events / checkpoint metrics
  train_loss: 'loss',
  valid_loss: 'eval_loss',
  full_valid_loss: 'full_eval_loss',
  train_mean_token_accuracy: 'mean_token_accuracy',
  valid_mean_token_accuracy: 'eval_mean_token_accuracy',
  full_valid_mean_token_accuracy: 'full_eval_mean_token_accuracy',
  step_number: 'step',
  // Together /fine-tunes/{id}/metrics (docs.together.ai fine-tuning-training-metrics): training
  // objects carry train/* keys, evaluation objects eval/* keys.
  'train/global_step': 'step',
  'eval/global_step': 'step',
  'train/loss': 'loss',
  'train/learning_rate': 'lr',
  'train/grad_norm': 'grad_norm',
  'train/epoch': 'epoch',
  'eval/loss': 'eval_loss',
};

/** Fields that are not metrics (Together stamps each object with its log time in ns). */
const NOT_METRICS = new Set(['timestamp']);

/** Numeric fields of a provider record renamed to the local names (non-numbers dropped). */
export function localMetrics(provider: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(provider)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || NOT_METRICS.has(k)) continue;
    out[LOCAL_NAMES[k] ?? k] = v;
  }
  return out;
}

/**
 * Writes outputDir/metrics.jsonl, one JSON object a line (as the local trainer). The provider returns
 * the whole history, so the file is rewritten, and a re-attached job does not log steps twice.
 */
export async function writeMetrics(outputDir: string, records: Record<string, number>[]): Promise<void> {
  if (!records.length) return;
  await mkdir(outputDir, { recursive: true });
  await writeFile(join(outputDir, 'metrics.jsonl'), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}
