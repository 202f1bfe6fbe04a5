// What runTraining needs for --method grpo|rlvr: the prompts, the reward functions, the reference
// policy (β ≠ 0), and the trainer's batch source, method and units.
import type { LoRALinear } from '../../engine/nn/lora.ts';
import { loadPromptSplits, type PromptExample } from '../data/prompts.ts';
import type { DatasetCounts } from '../data/summary.ts';
import type { NamedReward } from '../rewards/types.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { loadRewardFunctions } from '../rewards/load.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import type { Batch } from '../data/collate.ts';
import { checkGrpoBatching, grpoEvalBatches, GrpoSource, grpoMethod, resolveGrpoSettings, type GrpoContext, type GrpoSettings } from './grpo.ts';
import { adapterOffPolicy, frozenPolicy, type ReferencePolicy } from './reference.ts';
import type { TrainerOptions } from './trainer.ts';

export const GRPO_METHODS = ['grpo', 'rlvr'] as const;
export type GrpoMethodName = (typeof GRPO_METHODS)[number];

export interface GrpoRunSettings {
  method: GrpoMethodName;
  grpo?: GrpoSettings;
  /** Built-in names and module paths (--reward-funcs). */
  rewardFuncs?: string[];
  /** soft_overlong's L_cache. */
  softPunishCache?: number;
  /** Write every rollout to <outputDir>/completions.jsonl. */
  logCompletions?: boolean;
  data: string;
  valid?: string;
  valFraction?: number;
  seed?: number;
  chatTemplate?: string;
  maxPromptLength?: number;
  batchSize: number;
  gradAccum?: number;
  outputDir?: string;
}

/** The prompts and reward functions of a GRPO run, and the data summary counts (loaded before LoRA is applied). */
export interface GrpoData {
  prompts: PromptExample[];
  /** Held-out prompts (--valid / --val-fraction), evaluated every --eval-every steps; null: none. */
  evalPrompts: PromptExample[] | null;
  rewards: NamedReward[];
  G: number;
  stats: { train: DatasetCounts; val: DatasetCounts | null; identicalPairs?: number };
}

export async function loadGrpoData(tokenizer: Tokenizer, s: GrpoRunSettings): Promise<GrpoData> {
  const specs = s.rewardFuncs ?? [];
  if (!specs.length) {
    throw new Error(s.method === 'rlvr'
      ? '--method rlvr needs at least one verifier in --reward-funcs (e.g. accuracy, format, or a path to a reward module): RLVR rewards come only from verifiable functions'
      : '--method grpo needs --reward-funcs (built-ins accuracy, format, think_format, soft_overlong, or paths to reward modules)');
  }
  const resolved = resolveGrpoSettings(s.grpo ?? {}, specs.length);
  checkGrpoBatching(s.batchSize, s.gradAccum ?? 1, resolved.G);
  const rewards = await loadRewardFunctions(specs, { maxCompletionLength: resolved.maxCompletionLength, softPunishCache: s.softPunishCache });
  const { train, val } = await loadPromptSplits(s.data, tokenizer, { valid: s.valid, valFraction: s.valFraction, seed: s.seed, chatTemplate: s.chatTemplate, maxPromptLength: s.maxPromptLength });
  const perGeneration = (s.batchSize * (s.gradAccum ?? 1)) / resolved.G;
  if (train.length < perGeneration) throw new Error(`${s.data}: ${train.length} prompts, fewer than the ${perGeneration} one generation batch samples from`);
  return { prompts: train, evalPrompts: val?.length ? val : null, rewards, G: resolved.G, stats: { train: promptCounts(train), val: val && promptCounts(val) } };
}

function promptCounts(rows: readonly PromptExample[]): DatasetCounts {
  const formats: Record<string, number> = {};
  for (const r of rows) formats[typeof r.prompt === 'string' ? 'prompt' : 'conversational prompt'] = (formats[typeof r.prompt === 'string' ? 'prompt' : 'conversational prompt'] ?? 0) + 1;
  return {
    rows: rows.length, examples: rows.length, invalid: 0, errors: [], truncated: 0, droppedTooLong: 0, droppedNoLoss: 0, boundaryMismatches: 0,
    formats, tokens: rows.reduce((n, r) => n + r.promptIds.length, 0), lossTokens: 0,
  };
}

export async function grpoTraining(model: LlamaForCausalLM, tokenizer: Tokenizer, data: GrpoData, s: GrpoRunSettings, lora: Map<string, LoRALinear> | null,
  o: { loadReference?: () => Promise<LlamaForCausalLM>; setTraining: (on: boolean) => void },
): Promise<Pick<TrainerOptions, 'method' | 'units' | 'train'> & { eval: ((step: number) => AsyncIterable<Batch>) | null }> {
  const settings = s.grpo ?? {};
  const resolved = resolveGrpoSettings(settings, data.rewards.length);
  let ref: ReferencePolicy | null = null;
  if (resolved.beta !== 0) {
    if (lora) ref = adapterOffPolicy(model, lora.values());
    else if (o.loadReference) ref = frozenPolicy(await o.loadReference());
    else throw new Error(`${s.method} with beta ≠ 0 and full fine-tuning needs a frozen reference copy of the model (hooks.loadReference)`);
  }
  const { method, units } = grpoMethod(settings, data.rewards.length);
  const context = (prompts: PromptExample[]): GrpoContext => ({
    model, tokenizer, prompts, rewards: data.rewards, settings, batchSize: s.batchSize, gradAccum: s.gradAccum ?? 1, seed: s.seed ?? 0, ref,
    setTraining: o.setTraining, completionsLog: s.logCompletions && s.outputDir ? `${s.outputDir}/completions.jsonl` : undefined,
  });
  const held = data.evalPrompts;
  return {
    method, units,
    train: (state) => new GrpoSource(context(data.prompts), state),
    eval: held ? (step) => grpoEvalBatches(context(held), step) : null,
  };
}
