// What runTraining needs for --method grpo|rlvr: the prompts, the reward functions, the reference
// policy (β ≠ 0), and the trainer's batch source, method and units.
import type { LoRALinear } from '../../engine/nn/lora.ts';
import { loadPromptSplits } from '../data/prompts.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { loadRewardFunctions } from '../rewards/load.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { checkGrpoBatching, GrpoSource, grpoMethod, resolveGrpoSettings, type GrpoSettings } from './grpo.ts';
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

export async function grpoTraining(model: LlamaForCausalLM, tokenizer: Tokenizer, s: GrpoRunSettings, lora: Map<string, LoRALinear> | null,
  o: { loadReference?: () => Promise<LlamaForCausalLM>; setTraining: (on: boolean) => void }): Promise<Pick<TrainerOptions, 'method' | 'units' | 'train'>> {
  const specs = s.rewardFuncs ?? [];
  if (!specs.length) {
    throw new Error(s.method === 'rlvr'
      ? '--method rlvr needs at least one verifier in --reward-funcs (e.g. accuracy, format, or a path to a reward module): RLVR rewards come only from verifiable functions'
      : '--method grpo needs --reward-funcs (built-ins accuracy, format, think_format, soft_overlong, or paths to reward modules)');
  }
  const settings = s.grpo ?? {};
  const resolved = resolveGrpoSettings(settings, specs.length);
  checkGrpoBatching(s.batchSize, s.gradAccum ?? 1, resolved.G);
  const rewards = await loadRewardFunctions(specs, { maxCompletionLength: resolved.maxCompletionLength, softPunishCache: s.softPunishCache });
  const { train } = await loadPromptSplits(s.data, tokenizer, { valid: s.valid, valFraction: s.valFraction, seed: s.seed, chatTemplate: s.chatTemplate, maxPromptLength: s.maxPromptLength });
  const gradAccum = s.gradAccum ?? 1;
  const perGeneration = (s.batchSize * gradAccum) / resolved.G;
  if (train.length < perGeneration) throw new Error(`${s.data}: ${train.length} prompts, fewer than the ${perGeneration} one generation batch samples from`);
  let ref: ReferencePolicy | null = null;
  if (resolved.beta !== 0) {
    if (lora) ref = adapterOffPolicy(model, lora.values());
    else if (o.loadReference) ref = frozenPolicy(await o.loadReference());
    else throw new Error(`${s.method} with beta ≠ 0 and full fine-tuning needs a frozen reference copy of the model (hooks.loadReference)`);
  }
  const { method, units } = grpoMethod(settings, specs.length);
  return {
    method, units,
    train: (state) => new GrpoSource({
      model, tokenizer, prompts: train, rewards, settings, batchSize: s.batchSize, gradAccum, seed: s.seed ?? 0, ref,
      setTraining: o.setTraining, completionsLog: s.logCompletions && s.outputDir ? `${s.outputDir}/completions.jsonl` : undefined,
    }, state),
  };
}
