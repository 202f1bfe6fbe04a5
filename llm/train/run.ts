// A training run from settings: load the data for the method (SFT examples, preference pairs or
// KTO examples), apply LoRA (or train everything), set up the reference model where the method has
// one, train, and return what was trained. The CLI and the tests come through here.
import { BatchIterator, type IteratorState } from '../data/iterator.ts';
import { ktoBatchIterator, preferenceBatchIterator } from '../data/preference/iterator.ts';
import { loadKtoSplits, loadPreferenceSplits } from '../data/preference/load.ts';
import type { KtoExample, PreferenceExample } from '../data/preference/collate.ts';
import type { TruncationMode } from '../data/preference/truncate.ts';
import { loadSftSplits } from '../data/load.ts';
import type { Batch } from '../data/collate.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { applyLoRA, trainableParameters } from '../../engine/nn/apply-lora.ts';
import type { LoRALinear } from '../../engine/nn/lora.ts';
import { AdamW } from '../../engine/optim/adamw.ts';
import { SGD } from '../../engine/optim/sgd.ts';
import { Lion } from '../../engine/optim/lion.ts';
import type { Optimizer } from '../../engine/optim/optimizer.ts';
import type { ScheduleKind } from '../../engine/optim/schedule.ts';
import type { Generator } from '../../engine/random.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { summarizeData, type DataSummary, type DatasetCounts } from '../data/summary.ts';
import { sftLoss } from './sft.ts';
import { Trainer, type SyncBatchSource, type EvalRecord, type StepRecord, type TrainerOptions } from './trainer.ts';
import { needsReference, PREFERENCE_METHODS, preferenceMethod, preferenceUnits, type PreferenceMethod, type PreferenceSettings } from './preference.ts';
import { GRPO_METHODS, grpoTraining, loadGrpoData, type GrpoMethodName } from './grpo-setup.ts';
import type { GrpoSettings } from './grpo.ts';
import { adapterOffReference, modelReference, precomputeReference, type Reference } from './reference.ts';

export interface TrainSettings {
  /** sft (default), a preference method (dpo, orpo, cpo, simpo, kto), or grpo / rlvr. */
  method?: 'sft' | PreferenceMethod | GrpoMethodName;
  /** GRPO/RLVR: sampling, loss and reward settings (grpo-setup.ts). */
  grpo?: GrpoSettings;
  rewardFuncs?: string[];
  softPunishCache?: number;
  logCompletions?: boolean;
  /** β, loss type, label smoothing, ... of the preference method. */
  preference?: Omit<PreferenceSettings, 'method'>;
  /** Preference data: longest prompt when a pair exceeds maxLength (TRL's rule; needs maxLength). */
  maxPromptLength?: number;
  truncationMode?: TruncationMode;
  /** Compute the reference log-probs once before training (TRL's precompute_ref_log_probs). */
  precomputeRef?: boolean;
  data: string;
  valid?: string;
  valFraction?: number;
  maxSteps: number;
  /** Passes over the training data (TRL's num_train_epochs); when set it decides maxSteps. */
  epochs?: number;
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
  /** Keep only the newest N checkpoints. */
  saveTotalLimit?: number;
  outputDir?: string;
  resume?: boolean;
}

export interface TrainRunResult {
  records: StepRecord[];
  lora: Map<string, LoRALinear> | null;
  evalLoss: number | null;
  trainer: Trainer;
  data: DataSummary;
  /** The abort reason when hooks.signal stopped the run early. */
  stopped?: unknown;
}

export function makeOptimizer(kind: TrainSettings['optimizer'], params: import('../../engine/tensor.ts').Tensor[], lr: number, weightDecay?: number): Optimizer {
  switch (kind ?? 'adamw') {
    case 'adamw': return new AdamW(params, { lr, weightDecay: weightDecay ?? 0 });
    case 'sgd': return new SGD(params, { lr, momentum: 0.9, weightDecay: weightDecay ?? 0 });
    case 'lion': return new Lion(params, { lr, weightDecay: weightDecay ?? 0 });
    default: throw new Error(`unknown optimizer "${kind}" (expected adamw, sgd or lion)`);
  }
}

export interface TrainHooks {
  /** Awaited before the next step (a paused run waits here). */
  onStep?: (r: StepRecord) => void | Promise<void>;
  onEval?: (r: EvalRecord) => void;
  /** Full fine-tuning with DPO/KTO: load the frozen reference copy of the model. */
  loadReference?: () => Promise<LlamaForCausalLM>;
  log?: (s: string) => void;
  /** What happened to the data (rows kept, truncated, dropped...), before training starts. */
  onData?: (summary: DataSummary) => void | Promise<void>;
  /** Stops the run after the current step (with a checkpoint unless the reason says checkpoint: false). */
  signal?: AbortSignal;
  /** Called once before the first step, with the number of steps the run will make. */
  onStart?: (info: { maxSteps: number }) => void;
}

export async function runTraining(model: LlamaForCausalLM, tokenizer: Tokenizer, s: TrainSettings, hooks: TrainHooks = {}): Promise<TrainRunResult> {
  const method = s.method ?? 'sft';
  const grpo = (GRPO_METHODS as readonly string[]).includes(method) ? method as GrpoMethodName : null;
  if (method !== 'sft' && !grpo && !PREFERENCE_METHODS.includes(method as PreferenceMethod)) {
    throw new Error(`unknown training method "${method}" (expected sft, ${PREFERENCE_METHODS.join(', ')}, ${GRPO_METHODS.join(', ')})`);
  }
  const grpoData = grpo ? await loadGrpoData(tokenizer, { ...s, method: grpo }) : null;
  const data = method === 'sft' ? await sftData(tokenizer, s) : grpo ? null : await preferenceData(method as PreferenceMethod, tokenizer, s);
  const stats = data?.stats ?? grpoData!.stats;
  const summary = summarizeData({
    train: stats.train, val: stats.val, maxLength: s.maxLength, identicalPairs: stats.identicalPairs,
    validationSource: stats.val === null ? 'none' : s.valid === undefined && s.valFraction ? 'fraction' : 'file',
  });
  await hooks.onData?.(summary);
  if (s.epochs !== undefined) {
    // Batches of one pass, counted by collating it (packing makes the count depend on the rows);
    // GRPO: G completions per prompt, batchSize completions per micro-batch.
    let batches = 0;
    if (grpoData) batches = Math.ceil((grpoData.prompts.length * grpoData.G) / s.batchSize);
    else for (const _ of iterate(data!.train(undefined, false))) batches++;
    s = { ...s, maxSteps: Math.max(1, Math.ceil((s.epochs * batches) / (s.gradAccum ?? 1))) };
    hooks.log?.(`${s.epochs} epoch(s) of ${batches} batches: ${s.maxSteps} steps`);
  }
  const lora = s.lora ? applyLoRA(model, { ...s.lora, targetModules: s.lora.targets, seed: s.seed }) : null;
  if (!lora) for (const p of model.parameters()) p.requiresGrad = true;
  const params = trainableParameters(model);
  const rngs: Record<string, Generator> = {};
  lora?.forEach((l, name) => { rngs[`${name}.dropout`] = l.dropoutRng; });
  const setTraining = (on: boolean) => lora?.forEach((l) => { l.training = on; });
  let step: TrainerOptions['method'] = sftLoss;
  let units: TrainerOptions['units'];
  let train: TrainerOptions['train'] = (state) => data!.train(state, true);
  // Held-out batches: the method's eval split, or GRPO's held-out prompts sampled and scored at the current step.
  let evalBatches: (() => Iterable<Batch> | AsyncIterable<Batch>) | null = data?.eval ? () => iterate(data.eval!()) : null;
  if (grpo) {
    let grpoEval: ((step: number) => AsyncIterable<Batch>) | null;
    ({ method: step, units, train, eval: grpoEval } = await grpoTraining(model, tokenizer, grpoData!, { ...s, method: grpo }, lora, { loadReference: hooks.loadReference, setTraining }));
    if (grpoEval) evalBatches = () => grpoEval(trainer.step);
  } else if (method !== 'sft') {
    const pm = method as PreferenceMethod;
    let ref: Reference | null = null;
    if (needsReference(pm)) {
      if (lora) ref = adapterOffReference(model, lora.values());
      else if (hooks.loadReference) ref = modelReference(await hooks.loadReference());
      else throw new Error(`${method} with full fine-tuning needs a frozen reference copy of the model (hooks.loadReference)`);
      if (s.precomputeRef) {
        if (pm === 'kto') throw new Error('--precompute-ref is not available for kto: its KL pairs change with every shuffle');
        const all = [...iterate(data!.train(undefined, false)), ...(data!.eval ? iterate(data!.eval()) : [])];
        const pre = await precomputeReference(ref, all, model.backend);
        hooks.log?.(`reference log-probs precomputed for ${pre.rows} rows`);
        ref = pre;
      }
    }
    step = preferenceMethod({ ...s.preference, method: pm }, ref);
    units = preferenceUnits(pm);
  }
  const trainer = new Trainer({
    model, params, method: step, units,
    optimizer: makeOptimizer(s.optimizer, params.map(([, p]) => p), s.learningRate, s.weightDecay),
    baseLr: s.learningRate, schedule: s.schedule, warmupSteps: s.warmupSteps, maxSteps: s.maxSteps,
    gradAccum: s.gradAccum, maxGradNorm: s.maxGradNorm ?? 1,
    train,
    eval: evalBatches && s.evalEvery ? { batches: () => { setTraining(false); return evalBatches(); }, every: s.evalEvery } : undefined,
    checkpoints: s.outputDir && s.saveEvery ? { dir: `${s.outputDir}/checkpoints`, every: s.saveEvery, keep: s.saveTotalLimit } : undefined,
    signal: hooks.signal,
    metricsPath: s.outputDir ? `${s.outputDir}/metrics.jsonl` : undefined,
    rngs,
    onStep: (r) => { setTraining(true); return hooks.onStep?.(r); },
    onEval: hooks.onEval,
  });
  hooks.onStart?.({ maxSteps: s.maxSteps });
  const records = await trainer.run({ resume: s.resume });
  let evalLoss: number | null = null;
  if (evalBatches) {
    setTraining(false);
    // The periodic eval may just have run on the final weights.
    evalLoss = trainer.lastEval?.step === trainer.step ? trainer.lastEval.eval_loss : await trainer.evaluate(evalBatches());
  }
  setTraining(true);
  return { records, lora, evalLoss, trainer, data: summary, stopped: hooks.signal?.aborted ? hooks.signal.reason : undefined };
}

/** Batches of a method's data: training (resumable, endless when `endless`) and eval (one pass, file order). */
interface MethodData {
  train: (state: IteratorState | undefined, endless: boolean) => SyncBatchSource;
  eval: (() => SyncBatchSource) | null;
  stats: { train: DatasetCounts; val: DatasetCounts | null; identicalPairs?: number };
}

async function sftData(tokenizer: Tokenizer, s: TrainSettings): Promise<MethodData> {
  const splits = await loadSftSplits(s.data, tokenizer, {
    valid: s.valid, valFraction: s.valFraction, seed: s.seed, maxLength: s.maxLength,
    completionOnly: s.completionOnly, skipInvalid: s.skipInvalid, chatTemplate: s.chatTemplate,
  });
  if (!splits.train.examples.length) {
    const st = splits.train.stats;
    throw new Error(`${s.data}: no training examples (${st.rows} rows: ${st.invalid} invalid, ${st.droppedNoLoss} left with no completion ` +
      `tokens after truncation to ${s.maxLength ?? 'max'} tokens, ${st.droppedTooLong} too long)`);
  }
  const padId = tokenizer.eosId ?? 0;
  const collate = s.packing ? { kind: 'packing' as const, seqLength: s.maxLength ?? 512, eosId: padId, padId } : { kind: 'padding' as const, padId };
  const val = splits.val?.examples.length ? splits.val.examples : null;
  return {
    stats: { train: splits.train.stats, val: splits.val?.stats ?? null },
    train: (state, endless) => new BatchIterator(splits.train.examples, { batchSize: s.batchSize, collate, seed: s.seed, epochs: endless ? Infinity : 1, shuffle: endless }, state),
    eval: val ? () => new BatchIterator(val, { batchSize: s.batchSize, collate: { kind: 'padding', padId }, shuffle: false }) : null,
  };
}

async function preferenceData(method: PreferenceMethod, tokenizer: Tokenizer, s: TrainSettings): Promise<MethodData> {
  const opts = {
    valid: s.valid, valFraction: s.valFraction, seed: s.seed, maxLength: s.maxLength, maxPromptLength: s.maxPromptLength,
    truncationMode: s.truncationMode, skipInvalid: s.skipInvalid, chatTemplate: s.chatTemplate,
  };
  const batches = (endless: boolean) => ({ batchSize: s.batchSize, seed: s.seed, epochs: endless ? Infinity : 1, shuffle: endless });
  const splits = method === 'kto' ? await loadKtoSplits(s.data, tokenizer, opts) : await loadPreferenceSplits(s.data, tokenizer, opts);
  if (!splits.train.examples.length) {
    const st = splits.train.stats;
    throw new Error(`${s.data}: no ${method} training examples (${st.rows} rows: ${st.invalid} invalid, ${st.droppedTooLong} with a prompt ` +
      `that fills --max-length ${s.maxLength ?? '-'}, ${st.droppedNoLoss} with no completion tokens left)`);
  }
  const it = (examples: unknown[], state: IteratorState | undefined, endless: boolean): SyncBatchSource => method === 'kto'
    ? ktoBatchIterator(examples as KtoExample[], tokenizer, batches(endless), state)
    : preferenceBatchIterator(examples as PreferenceExample[], tokenizer, batches(endless), state);
  const val = splits.val?.examples.length ? splits.val.examples : null;
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const identicalPairs = method === 'kto' ? 0 : (splits.train.examples as PreferenceExample[]).filter((e) => same(e.chosen, e.rejected)).length;
  return {
    stats: { train: splits.train.stats, val: splits.val?.stats ?? null, identicalPairs },
    train: (state, endless) => it(splits.train.examples, state, endless),
    eval: val ? () => it(val, undefined, false) : null,
  };
}

function* iterate(it: SyncBatchSource): Iterable<Batch> {
  for (let b = it.next(); b; b = it.next()) yield b;
}
