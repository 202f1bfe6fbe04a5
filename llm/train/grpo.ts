// GRPO/RLVR in the one trainer loop: a batch source that samples, scores and buffers completions
// (TRL's _generate_and_score_completions and _prepare_inputs), and the method that turns one
// micro-batch into TRL's loss (_compute_loss, methods/grpo.ts).
//
// One generation batch = batchSize × gradAccum completions = (that / G) prompts × G samples each
// (TRL: generation_batch_size = per_device_train_batch_size × steps_per_generation, and
// steps_per_generation = gradient_accumulation_steps). It is shuffled, split into gradAccum
// micro-batches and used num_iterations (μ) times, so a new batch is sampled every μ optimizer steps.
// The source's state (prompt order, sampler RNG, the buffered rollout and how far it is used) goes
// into checkpoints, so a resumed run continues with the same samples.
//
// Choices TRL leaves open (or makes by accident), documented:
//  - positions: the log-prob forward numbers real tokens from 0 after left padding, as generation
//    does; TRL's forward passes no position_ids, so HF counts padding too (a train/sample mismatch
//    that only exists for prompts of unequal length).
//  - EOS: every stop id of the tokenizer ends a completion and counts as EOS for the mask.
//  - entropies for top_entropy_quantile are computed, when that option is on, by an extra no-grad
//    forward as the micro-batch is drawn; the weights are those the loss sees (they only change
//    after the whole accumulation window), so the mask is TRL's.
//  - metrics of a step are averaged over its micro-batches weighted by their loss units (the
//    trainer's rule); TRL averages the micro-batch values unweighted.
//  - LoRA dropout is off while sampling and for the no-grad old/reference/entropy passes (TRL runs
//    those in train mode unless disable_dropout); the loss's forward has it on, as in TRL.
//  - --batch-size needs only batch × accumulation to be a multiple of G (TRL's check on
//    generation_batch_size), so a micro-batch may hold parts of two groups.
import { appendTextFile, dirName, makeDir } from '../io/node-fs.ts';
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { full, lmHeadTokenStats, narrow, tensor } from '../../engine/ops/index.ts';
import { Generator } from '../../engine/random.ts';
import type { Tensor } from '../../engine/tensor.ts';
import type { Batch } from '../data/collate.ts';
import { BatchIterator, type IteratorState } from '../data/iterator.ts';
import type { PromptExample } from '../data/prompts.ts';
import { permutation } from '../data/shuffle.ts';
import { generate } from '../generate/generate.ts';
import { groupAdvantages, nanmean, nanstd, type ScaleRewards } from '../methods/grpo-advantages.ts';
import { grpoLoss, highEntropyMask, resolveGrpoOpts, type GrpoLossOpts } from '../methods/grpo.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { scoreCompletions } from '../rewards/load.ts';
import type { NamedReward } from '../rewards/types.ts';
import type { ChatMessage, Tokenizer } from '../tokenizers/tokenizer.ts';
import type { ReferencePolicy } from './reference.ts';
import type { MethodOutput } from './sft.ts';
import type { BatchSource } from './trainer.ts';

const IGNORE = -100;

export interface GrpoSettings extends GrpoLossOpts {
  /** G, completions per prompt (default 8, at least 2). */
  numGenerations?: number;
  /** Most new tokens per completion (default 256). */
  maxCompletionLength?: number;
  temperature?: number;
  topP?: number;
  /** 0: off. */
  topK?: number;
  scaleRewards?: ScaleRewards;
  /** μ: how many optimizer passes each generation batch gets (default 1). */
  numIterations?: number;
  /** Completions that end without EOS get mask 0. */
  maskTruncatedCompletions?: boolean;
  /** ρ: only tokens in the top ρ fraction of entropy count (default 1: all). */
  topEntropyQuantile?: number;
  /** One weight per reward function (default all 1). */
  rewardWeights?: number[];
}

export function resolveGrpoSettings(s: GrpoSettings, rewards: number) {
  const G = s.numGenerations ?? 8;
  if (!Number.isInteger(G) || G < 2) throw new Error(`--num-generations ${G}: GRPO needs at least 2 completions per prompt (an integer ≥ 2)`);
  const maxCompletionLength = s.maxCompletionLength ?? 256;
  if (!Number.isInteger(maxCompletionLength) || maxCompletionLength < 1) throw new Error(`--max-completion-length ${maxCompletionLength} must be a positive integer`);
  const temperature = s.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`--temperature ${temperature} must be > 0 (GRPO samples; the log-probs divide by it)`);
  const topP = s.topP ?? 1, topK = s.topK ?? 0;
  if (!(topP > 0 && topP <= 1)) throw new Error(`--top-p ${topP} must lie in (0, 1]`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`--top-k ${topK} must be an integer ≥ 0 (0: off)`);
  const numIterations = s.numIterations ?? 1;
  if (!Number.isInteger(numIterations) || numIterations < 1) throw new Error(`--num-iterations ${numIterations} must be an integer ≥ 1`);
  const q = s.topEntropyQuantile ?? 1;
  if (!(q > 0 && q <= 1)) throw new Error(`--top-entropy-quantile ${q} must lie in (0, 1]`);
  const weights = s.rewardWeights ?? new Array<number>(rewards).fill(1);
  if (weights.length !== rewards) throw new Error(`--reward-weights has ${weights.length} values for ${rewards} reward functions`);
  if (weights.some((w) => !Number.isFinite(w))) throw new Error(`--reward-weights ${weights.join(',')}: every weight must be a finite number`);
  const loss = resolveGrpoOpts({ ...s, maxCompletionLength });
  return { ...loss, G, maxCompletionLength, temperature, topP, topK, numIterations, topEntropyQuantile: q, weights, scaleRewards: s.scaleRewards ?? 'group', maskTruncated: s.maskTruncatedCompletions ?? false };
}
type Resolved = ReturnType<typeof resolveGrpoSettings>;

/** A sampled, scored generation batch, as plain JSON (it is part of the checkpoint). */
interface Rollout {
  promptIds: number[][];
  completionIds: number[][];
  /** 1 on completion tokens that count (up to the first EOS; 0 for masked truncated completions). */
  maskOn: boolean[];
  advantages: number[];
  /** Per completion token, when μ > 1: the log-probs at generation time. */
  oldLogps: number[][] | null;
  refLogps: number[][] | null;
  metrics: Record<string, number>;
  /** The shuffled order in which rows go into micro-batches. */
  order: number[];
}

/** The source's checkpoint state: the prompt iterator's, plus the sampler and the buffered rollout. */
export interface GrpoSourceState extends IteratorState {
  sampler: number[];
  rollout: Rollout | null;
  /** Micro-batches drawn so far (all of them, across rollouts). */
  drawn: number;
  tokensSeen: number;
}

/** One micro-batch: the Batch the trainer counts tokens of, plus what the GRPO loss needs. */
export interface GrpoBatch extends Batch {
  grpo: {
    promptWidth: number;
    completionWidth: number;
    /** [B][C] completion ids, IGNORE (−100) after each completion's end. */
    targets: number[][];
    mask: number[][];
    advantages: number[];
    oldLogps: number[][] | null;
    refLogps: number[][] | null;
    entropyMask: number[][] | null;
    metrics: Record<string, number>;
  };
}

/** What sampling and scoring use of a tokenizer (the demo's character vocabulary has just these). */
export type CompletionCodec = Pick<Tokenizer, 'stopIds' | 'eosId' | 'decode'>;

export interface GrpoContext {
  model: LlamaForCausalLM;
  tokenizer: CompletionCodec;
  prompts: readonly PromptExample[];
  rewards: readonly NamedReward[];
  settings: GrpoSettings;
  /** Completions per micro-batch (TRL's per_device_train_batch_size). */
  batchSize: number;
  gradAccum: number;
  seed: number;
  /** The reference policy when β ≠ 0. */
  ref: ReferencePolicy | null;
  /** LoRA dropout off while sampling and scoring (no_grad passes), on for the loss. */
  setTraining?: (on: boolean) => void;
  /** Where --log-completions writes each rollout (completions.jsonl). */
  completionsLog?: string;
}

export function checkGrpoBatching(batchSize: number, gradAccum: number, G: number): void {
  const gen = batchSize * gradAccum;
  if (gen % G !== 0) {
    throw new Error(`--batch-size ${batchSize} × --grad-accum ${gradAccum} = ${gen} completions per generation batch is not a multiple of --num-generations ${G} ` +
      `(TRL: generation_batch_size must be divisible by num_generations); e.g. --batch-size ${G} samples one prompt per micro-batch`);
  }
}

export class GrpoSource implements BatchSource {
  private readonly o: Resolved;
  private readonly prompts: BatchIterator<PromptExample, { rows: PromptExample[] }>;
  private readonly rng: Generator;
  private rollout: Rollout | null = null;
  private drawn = 0;
  private tokensSeen = 0;

  constructor(private readonly c: GrpoContext, state?: IteratorState) {
    this.o = resolveGrpoSettings(c.settings, c.rewards.length);
    checkGrpoBatching(c.batchSize, c.gradAccum, this.o.G);
    if (this.o.beta !== 0 && !c.ref) throw new Error('grpo: beta ≠ 0 needs a reference policy');
    const perGeneration = (c.batchSize * c.gradAccum) / this.o.G;
    this.prompts = new BatchIterator(c.prompts, { batchSize: perGeneration, collate: (rows) => ({ rows }), seed: c.seed, epochs: Infinity, dropLast: true }, state);
    this.rng = new Generator(c.seed + 1);
    if (state && 'sampler' in state) {
      const s = state as GrpoSourceState;
      this.rng.setState(s.sampler);
      this.rollout = s.rollout;
      this.drawn = s.drawn;
      this.tokensSeen = s.tokensSeen;
    }
  }

  state(): GrpoSourceState {
    return { ...this.prompts.state(), sampler: this.rng.getState(), rollout: this.rollout, drawn: this.drawn, tokensSeen: this.tokensSeen };
  }

  async next(): Promise<GrpoBatch> {
    const S = this.c.gradAccum;
    const cycle = this.drawn % (S * this.o.numIterations);
    if (!this.rollout || cycle === 0) this.rollout = await this.sample(Math.floor(this.drawn / S) + 1);
    const rows = this.rollout.order.slice((cycle % S) * this.c.batchSize, (cycle % S + 1) * this.c.batchSize);
    this.drawn++;
    const batch = microBatch(this.rollout, rows, this.c.tokenizer);
    await addEntropyMask(this.c, this.o, batch);
    return batch;
  }

  /** Sample G completions for each prompt of the next generation batch, score them, and buffer the result. */
  private async sample(step: number): Promise<Rollout> {
    const { c, o } = this;
    const group = this.prompts.next();
    if (!group) throw new Error('grpo: the prompt iterator ran dry (fewer prompts than one generation batch?)');
    const g = await sampleRollout(c, o, group.rows, this.rng, step, c.gradAccum > 1, (tokens) => (this.tokensSeen += tokens));
    if (c.completionsLog) await this.logCompletions(step, g.rows, g.text, g.scores.perFunc, g.rollout.advantages);
    return g.rollout;
  }

  private async logCompletions(step: number, rows: PromptExample[], text: string[], perFunc: (number | null)[][], advantages: number[]) {
    const path = this.c.completionsLog!;
    await makeDir(dirName(path));
    const lines = rows.map((r, i) => JSON.stringify({
      step, prompt: r.prompt, completion: text[i],
      rewards: Object.fromEntries(this.c.rewards.map((f, k) => [f.name, perFunc[i][k]])), advantage: advantages[i],
    }));
    await appendTextFile(path, lines.join('\n') + '\n');
  }
}

/** A no-grad pass over a micro-batch with dropout off, read back as [B][C]. */
async function offline(c: GrpoContext, fn: (m: LlamaForCausalLM) => Tensor, policy: ReferencePolicy | null = null): Promise<number[][]> {
  c.setTraining?.(false);
  try {
    const t = noGrad(() => tidy(() => (policy ? policy.with(fn) : fn(c.model))));
    const v = await t.data();
    const [B, C] = t.shape;
    t.dispose();
    return Array.from({ length: B }, (_, b) => Array.from(v.subarray(b * C, (b + 1) * C)));
  } finally {
    c.setTraining?.(true);
  }
}

/** top_entropy_quantile < 1: the micro-batch's entropy mask, from a no-grad pass with the weights the loss sees. */
async function addEntropyMask(c: GrpoContext, o: Resolved, batch: GrpoBatch): Promise<void> {
  if (o.topEntropyQuantile >= 1) return;
  const ent = await offline(c, (m) => completionLogps(m, batch, o.temperature, true).entropies!);
  batch.grpo.entropyMask = highEntropyMask(ent, batch.grpo.mask, 1 - o.topEntropyQuantile);
}

/** What a rollout's metrics are computed from (kept per completion, so an evaluation can pool several rollouts). */
interface RolloutScores {
  lengths: number[];
  terminated: boolean[];
  /** Per completion, one score per reward function (null: no score). */
  perFunc: (number | null)[][];
  /** Weighted sum per completion, and the std of its group. */
  rewards: number[];
  groupStd: number[];
}

/** TRL's logged statistics of completions and rewards; num_tokens (training only) first. */
function rolloutMetrics(s: RolloutScores, rewards: readonly NamedReward[], numTokens: number | null): Record<string, number> {
  const { lengths, terminated } = s;
  const n = lengths.length;
  const term = lengths.filter((_, i) => terminated[i]);
  const metrics: Record<string, number> = {
    ...(numTokens !== null ? { num_tokens: numTokens } : {}),
    'completions/mean_length': nanmean(lengths), 'completions/min_length': Math.min(...lengths), 'completions/max_length': Math.max(...lengths),
    'completions/clipped_ratio': terminated.filter((t) => !t).length / n,
    'completions/mean_terminated_length': term.length ? nanmean(term) : 0,
    'completions/min_terminated_length': term.length ? Math.min(...term) : 0,
    'completions/max_terminated_length': term.length ? Math.max(...term) : 0,
  };
  rewards.forEach((r, k) => {
    const v = s.perFunc.map((row) => row[k] ?? NaN);
    metrics[`rewards/${r.name}/mean`] = nanmean(v);
    metrics[`rewards/${r.name}/std`] = nanstd(v);
  });
  metrics.reward = nanmean(s.rewards);
  metrics.reward_std = nanstd(s.rewards);
  metrics.frac_reward_zero_std = s.groupStd.filter((x) => Math.abs(x) <= 1e-8).length / n;
  return metrics;
}

/**
 * One generation batch: G sampled completions for each of `prompts` (with `rng`), scored, with group
 * advantages and, where needed, the old and reference log-probs at generation time. `countTokens`
 * gets the batch's prompt + completion tokens and returns the running total logged as num_tokens
 * (null: not logged).
 */
async function sampleRollout(c: GrpoContext, o: Resolved, prompts: readonly PromptExample[], rng: Generator, step: number, shuffle: boolean,
  countTokens: (tokens: number) => number | null): Promise<{ rollout: Rollout; rows: PromptExample[]; text: string[]; scores: RolloutScores }> {
  const rows = prompts.flatMap((r) => new Array<PromptExample>(o.G).fill(r));
  const stops = c.tokenizer.stopIds.length ? [...c.tokenizer.stopIds] : c.tokenizer.eosId !== null ? [c.tokenizer.eosId] : [];
  c.setTraining?.(false);
  let completionIds: number[][];
  try {
    completionIds = await generate(c.model, rows.map((r) => r.promptIds), {
      maxNewTokens: o.maxCompletionLength, temperature: o.temperature, topP: o.topP, topK: o.topK, stopTokens: stops, rng,
    });
  } finally {
    c.setTraining?.(true);
  }
  const terminated = completionIds.map((ids) => ids.length > 0 && stops.includes(ids[ids.length - 1]));
  const maskOn = terminated.map((t) => t || !o.maskTruncated);
  const text = completionIds.map((ids) => c.tokenizer.decode(ids, { skipSpecialTokens: true }));
  const completions: (string | ChatMessage[])[] = rows.map((r, i) => (typeof r.prompt === 'string' ? text[i] : [{ role: 'assistant', content: text[i] }]));
  const columns: Record<string, unknown[]> = {};
  for (const key of new Set(rows.flatMap((r) => Object.keys(r.columns)))) columns[key] = rows.map((r) => r.columns[key]);
  const perFunc = await scoreCompletions(c.rewards, { ...columns, prompts: rows.map((r) => r.prompt), completions, completionIds, step });
  const adv = groupAdvantages(perFunc, o.weights, o.G, o.scaleRewards);

  const lengths = completionIds.map((ids) => ids.length);
  const numTokens = countTokens(rows.reduce((s, r) => s + r.promptIds.length, 0) + lengths.reduce((s, n) => s + n, 0));
  const scores: RolloutScores = { lengths, terminated, perFunc, rewards: adv.rewards, groupStd: adv.std };
  const rollout: Rollout = {
    promptIds: rows.map((r) => r.promptIds), completionIds, maskOn, advantages: adv.advantages, oldLogps: null, refLogps: null,
    metrics: rolloutMetrics(scores, c.rewards, numTokens),
    order: shuffle ? permutation(rows.length, rng) : rows.map((_, i) => i),
  };
  // Old and reference log-probs at generation time, over micro-batch-sized chunks (TRL: no grad, same batching).
  const all = rows.map((_, i) => i);
  const perRow = async (policy: ReferencePolicy | null) => {
    const out: number[][] = [];
    for (let i = 0; i < all.length; i += c.batchSize) {
      const mb = microBatch(rollout, all.slice(i, i + c.batchSize), c.tokenizer);
      const lp = await offline(c, (m) => completionLogps(m, mb, o.temperature, false).logps, policy);
      lp.forEach((row, b) => out.push(row.slice(0, completionIds[i + b].length)));
    }
    return out;
  };
  if (o.numIterations > 1) rollout.oldLogps = await perRow(null);
  if (o.beta !== 0) rollout.refLogps = await perRow(c.ref);
  return { rollout, rows, text, scores };
}

/**
 * Evaluation on held-out prompts (TRL's prediction_step in eval mode): G completions sampled per
 * prompt as in training, with a generator of its own seeded by the step (the training sampler's
 * state is untouched, so a resumed run samples as an uninterrupted one), scored by the same reward
 * functions, and turned into micro-batches whose loss the trainer averages (eval_loss). Every
 * micro-batch carries the reward and completion statistics of the whole evaluation set, so the
 * trainer's average of them is the mean over all held-out completions (eval_reward,
 * eval_rewards/<name>/mean, ...). `c.prompts` are the held-out prompts; dropout is off throughout
 * and back on at the end. μ is 1 here (no old log-probs).
 */
export async function* grpoEvalBatches(c: GrpoContext, step: number): AsyncGenerator<GrpoBatch> {
  const o = { ...resolveGrpoSettings(c.settings, c.rewards.length), numIterations: 1 };
  const ctx: GrpoContext = { ...c, setTraining: undefined, completionsLog: undefined };
  const rng = new Generator((c.seed * 1_000_003 + 7_919 * (step + 1)) >>> 0);
  const perGeneration = Math.max(1, Math.floor((c.batchSize * c.gradAccum) / o.G));
  c.setTraining?.(false);
  try {
    const rollouts: Rollout[] = [];
    const pooled: RolloutScores = { lengths: [], terminated: [], perFunc: [], rewards: [], groupStd: [] };
    for (let i = 0; i < c.prompts.length; i += perGeneration) {
      const g = await sampleRollout(ctx, o, c.prompts.slice(i, i + perGeneration), rng, step, false, () => null);
      rollouts.push(g.rollout);
      for (const k of Object.keys(pooled) as (keyof RolloutScores)[]) (pooled[k] as unknown[]).push(...g.scores[k]);
    }
    const metrics = rolloutMetrics(pooled, c.rewards, null);
    for (const r of rollouts) {
      r.metrics = metrics;
      for (let j = 0; j < r.order.length; j += c.batchSize) {
        const batch = microBatch(r, r.order.slice(j, j + c.batchSize), c.tokenizer);
        await addEntropyMask(ctx, o, batch);
        yield batch;
      }
    }
  } finally {
    c.setTraining?.(true);
  }
}

/** Rows of a rollout as one left-padded-prompt + right-padded-completion batch. */
function microBatch(r: Rollout, rows: number[], tokenizer: CompletionCodec): GrpoBatch {
  const P = Math.max(...rows.map((i) => r.promptIds[i].length));
  const C = Math.max(1, ...rows.map((i) => r.completionIds[i].length));
  const pad = tokenizer.eosId ?? 0;
  const batch: GrpoBatch = {
    kind: 'padded', shape: [rows.length, P + C], inputIds: [], labels: [], attentionMask: [], positionIds: [], lossTokens: 0, examples: rows.length,
    grpo: { promptWidth: P, completionWidth: C, targets: [], mask: [], advantages: [], oldLogps: r.oldLogps && [], refLogps: r.refLogps && [], entropyMask: null, metrics: r.metrics },
  };
  for (const i of rows) {
    const p = r.promptIds[i], c = r.completionIds[i], lp = P - p.length, rp = C - c.length;
    batch.inputIds.push([...new Array<number>(lp).fill(pad), ...p, ...c, ...new Array<number>(rp).fill(pad)]);
    batch.attentionMask.push([...new Array<number>(lp).fill(0), ...new Array<number>(p.length + c.length).fill(1), ...new Array<number>(rp).fill(0)]);
    batch.positionIds.push([...new Array<number>(lp).fill(0), ...Array.from({ length: p.length + c.length }, (_, t) => t), ...new Array<number>(rp).fill(0)]);
    batch.labels.push([...new Array<number>(P).fill(IGNORE), ...c, ...new Array<number>(rp).fill(IGNORE)]);
    const m = [...new Array<number>(c.length).fill(r.maskOn[i] ? 1 : 0), ...new Array<number>(rp).fill(0)];
    batch.grpo.targets.push([...c, ...new Array<number>(rp).fill(IGNORE)]);
    batch.grpo.mask.push(m);
    batch.grpo.advantages.push(r.advantages[i]);
    const padRow = (v: number[]) => [...v, ...new Array<number>(rp).fill(0)];
    batch.grpo.oldLogps?.push(padRow(r.oldLogps![i]));
    batch.grpo.refLogps?.push(padRow(r.refLogps![i]));
    batch.lossTokens += m.reduce((s, v) => s + v, 0);
  }
  return batch;
}

/**
 * Per-token log-probs of the completion tokens [B, C] with the prompt as context, from logits
 * divided by the sampling temperature (TRL's _get_per_token_logps_and_entropies); with
 * `entropies`, also each position's entropy of that tempered distribution (no gradient). The
 * lm_head is applied to the completion positions' hidden states in row chunks with scale 1/T
 * (lmHeadTokenStats), so the [B, C, V] logits never exist at once.
 */
export function completionLogps(model: LlamaForCausalLM, batch: GrpoBatch, temperature: number, entropies: boolean, chunkRows?: number): { logps: Tensor; entropies: Tensor | null } {
  const backend = model.backend;
  const [B, T] = batch.shape;
  const { promptWidth: P, completionWidth: C } = batch.grpo;
  const ids = tensor(Int32Array.from(batch.inputIds.flat()), [B, T], { dtype: 'i32', backend });
  const hidden = model.hidden(ids, { positions: batch.positionIds, segments: batch.attentionMask });
  // Position P − 1 + t predicts completion token t.
  const h = narrow(hidden, 1, P - 1, C);
  const targets = tensor(Int32Array.from(batch.grpo.targets.flat()), [B, C], { dtype: 'i32', backend });
  const r = lmHeadTokenStats(h, model.headWeight, targets, { ignoreIndex: IGNORE, scale: 1 / temperature, chunkRows }, entropies);
  return { logps: r.logp, entropies: r.entropy };
}

/** The trainer's method for GRPO micro-batches. */
export function grpoMethod(settings: GrpoSettings, rewards: number): { method: (model: LlamaForCausalLM, batch: Batch) => MethodOutput; units: (b: Batch) => number } {
  const o = resolveGrpoSettings(settings, rewards);
  // dapo/cispo divide by the completion tokens of the whole generation batch (= the accumulation
  // window, which the trainer sums units over); the others by the number of micro-batches.
  const global = o.lossType === 'dapo' || o.lossType === 'cispo';
  return {
    units: (b) => (global ? b.lossTokens : 1),
    method(model, batch) {
      const g = (batch as GrpoBatch).grpo;
      if (!g) throw new Error('grpo: the batch was not made by GrpoSource');
      const backend = model.backend;
      const [B] = batch.shape, C = g.completionWidth;
      const t2 = (v: number[][]) => tensor(v.flat(), [B, C], { backend });
      const { logps, entropies } = completionLogps(model, batch as GrpoBatch, o.temperature, true);
      const out = grpoLoss({
        logps, oldLogps: g.oldLogps && t2(g.oldLogps), refLogps: g.refLogps && t2(g.refLogps),
        advantages: tensor(g.advantages, [B], { backend }), mask: t2(g.mask), entropies, entropyMask: g.entropyMask && t2(g.entropyMask),
      }, { ...o, numItemsInBatch: global ? 1 : undefined });
      const metrics: Record<string, Tensor> = { ...out.metrics };
      for (const [k, v] of Object.entries(g.metrics)) metrics[k] = full([], v, { backend });
      return { lossSum: out.loss, tokens: batch.lossTokens, metrics };
    },
  };
}
