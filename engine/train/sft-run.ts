// An SFT run from settings: load model, tokenizer and data, apply LoRA (or train everything),
// train, and return what was trained. The CLI, the demo and the tests all come through here.
import type { Backend } from '../../backends/backend.ts';
import { BatchIterator } from '../data/iterator.ts';
import { loadSftSplits } from '../data/load.ts';
import type { Batch } from '../data/collate.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { applyLoRA, trainableParameters } from '../nn/apply-lora.ts';
import type { LoRALinear } from '../nn/lora.ts';
import { AdamW } from '../optim/adamw.ts';
import { SGD } from '../optim/sgd.ts';
import { Lion } from '../optim/lion.ts';
import type { Optimizer } from '../optim/optimizer.ts';
import type { ScheduleKind } from '../optim/schedule.ts';
import type { Generator } from '../random.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { sftLoss } from './sft.ts';
import { Trainer, type StepRecord } from './trainer.ts';

export interface SftSettings {
  data: string;
  valid?: string;
  valFraction?: number;
  maxSteps: number;
  batchSize: number;
  gradAccum?: number;
  learningRate: number;
  schedule?: ScheduleKind;
  warmupSteps?: number;
  maxGradNorm?: number;
  optimizer?: 'adamw' | 'sgd' | 'lion';
  weightDecay?: number;
  seed?: number;
  maxLength?: number;
  packing?: boolean;
  completionOnly?: boolean;
  skipInvalid?: boolean;
  chatTemplate?: string;
  /** null: full fine-tuning. */
  lora: { r: number; alpha: number; dropout?: number; rslora?: boolean; targets: string[]; layers?: [number, number] } | null;
  evalEvery?: number;
  saveEvery?: number;
  outputDir?: string;
  resume?: boolean;
}

export interface SftRunResult {
  records: StepRecord[];
  lora: Map<string, LoRALinear> | null;
  evalLoss: number | null;
  trainer: Trainer;
}

export function makeOptimizer(kind: SftSettings['optimizer'], params: import('../tensor.ts').Tensor[], lr: number, weightDecay?: number): Optimizer {
  switch (kind ?? 'adamw') {
    case 'adamw': return new AdamW(params, { lr, weightDecay: weightDecay ?? 0 });
    case 'sgd': return new SGD(params, { lr, momentum: 0.9, weightDecay: weightDecay ?? 0 });
    case 'lion': return new Lion(params, { lr, weightDecay: weightDecay ?? 0 });
    default: throw new Error(`unknown optimizer "${kind}" (expected adamw, sgd or lion)`);
  }
}

export async function runSft(model: LlamaForCausalLM, tokenizer: Tokenizer, s: SftSettings,
  hooks: { onStep?: (r: StepRecord) => void; onEval?: (r: { step: number; eval_loss: number }) => void } = {}): Promise<SftRunResult> {
  const splits = await loadSftSplits(s.data, tokenizer, {
    valid: s.valid, valFraction: s.valFraction, seed: s.seed, maxLength: s.maxLength,
    completionOnly: s.completionOnly, skipInvalid: s.skipInvalid, chatTemplate: s.chatTemplate,
  });
  if (!splits.train.examples.length) {
    const st = splits.train.stats;
    throw new Error(`${s.data}: no training examples (${st.rows} rows: ${st.invalid} invalid, ${st.droppedNoLoss} left with no completion ` +
      `tokens after truncation to ${s.maxLength ?? 'max'} tokens, ${st.droppedTooLong} too long)`);
  }
  const lora = s.lora ? applyLoRA(model, { ...s.lora, targetModules: s.lora.targets, seed: s.seed }) : null;
  if (!lora) for (const p of model.parameters()) p.requiresGrad = true;
  const params = trainableParameters(model);
  const padId = tokenizer.eosId ?? 0;
  const collate = s.packing ? { kind: 'packing' as const, seqLength: s.maxLength ?? 512, eosId: padId, padId } : { kind: 'padding' as const, padId };
  const rngs: Record<string, Generator> = {};
  lora?.forEach((l, name) => { rngs[`${name}.dropout`] = l.dropoutRng; });
  const evalBatches = splits.val?.examples.length
    ? () => iterate(new BatchIterator(splits.val!.examples, { batchSize: s.batchSize, collate: { kind: 'padding', padId }, shuffle: false }))
    : undefined;
  const setTraining = (on: boolean) => lora?.forEach((l) => { l.training = on; });
  const trainer = new Trainer({
    model, params, method: sftLoss,
    optimizer: makeOptimizer(s.optimizer, params.map(([, p]) => p), s.learningRate, s.weightDecay),
    baseLr: s.learningRate, schedule: s.schedule, warmupSteps: s.warmupSteps, maxSteps: s.maxSteps,
    gradAccum: s.gradAccum, maxGradNorm: s.maxGradNorm ?? 1,
    train: (state) => new BatchIterator(splits.train.examples, { batchSize: s.batchSize, collate, seed: s.seed, epochs: Infinity }, state),
    eval: evalBatches && s.evalEvery ? { batches: () => { setTraining(false); return evalBatches(); }, every: s.evalEvery } : undefined,
    checkpoints: s.outputDir && s.saveEvery ? { dir: `${s.outputDir}/checkpoints`, every: s.saveEvery } : undefined,
    metricsPath: s.outputDir ? `${s.outputDir}/metrics.jsonl` : undefined,
    rngs,
    onStep: (r) => { setTraining(true); hooks.onStep?.(r); },
    onEval: hooks.onEval,
  });
  const records = await trainer.run({ resume: s.resume });
  let evalLoss: number | null = null;
  if (evalBatches) { setTraining(false); evalLoss = await trainer.evaluate(evalBatches()); }
  setTraining(true);
  return { records, lora, evalLoss, trainer };
}

function* iterate(it: BatchIterator): Iterable<Batch> {
  for (let b = it.next(); b; b = it.next()) yield b;
}
