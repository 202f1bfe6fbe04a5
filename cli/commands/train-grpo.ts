// The GRPO/RLVR option group of `wgrad train` (TRL 1.x GRPOConfig names; defaults as TRL's, except
// --max-completion-length 256 as the benchmark): sampling, the loss, rewards.
import { GRPO_LOSS_TYPES, type GrpoLossType } from '../../llm/methods/grpo.ts';
import { SCALE_REWARDS, type ScaleRewards } from '../../llm/methods/grpo-advantages.ts';
import type { TrainSettings } from '../../llm/train/run.ts';
import { choice, list, nonNegative, nonNegativeInt, number, positive, positiveInt, UsageError, type Flag } from '../args.ts';

export const GRPO_METHOD_NAMES = ['grpo', 'rlvr'] as const;

const unit = number('a number in (0, 1]', (n) => n > 0 && n <= 1);
const weights = (raw: string, flag: string) => raw.split(',').map((s) => {
  const v = Number(s.trim());
  if (s.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${flag} expects comma-separated numbers, got "${raw}"`);
  return v;
});

export const grpoFlags: Flag[] = [
  { flags: '--reward-funcs <list>', help: 'grpo/rlvr: accuracy, format, think_format, soft_overlong, or .js/.mjs/.ts module paths, comma-separated', parse: list },
  { flags: '--reward-weights <list>', help: 'grpo/rlvr: one weight per reward function (default all 1)', parse: weights },
  { flags: '--num-generations <g>', help: 'grpo/rlvr: completions per prompt, ≥ 2 (--batch-size counts completions)', default: 8, parse: positiveInt },
  { flags: '--max-completion-length <n>', help: 'grpo/rlvr: most new tokens per completion', default: 256, parse: positiveInt },
  { flags: '--temperature <t>', help: 'grpo/rlvr: sampling temperature (log-probs divide by it too)', default: 1, parse: positive },
  { flags: '--top-p <p>', help: 'grpo/rlvr: nucleus sampling', default: 1, parse: unit },
  { flags: '--top-k <k>', help: 'grpo/rlvr: keep the k likeliest tokens (0: off)', default: 0, parse: nonNegativeInt },
  { flags: '--epsilon <e>', help: 'grpo/rlvr: lower clip ε', default: 0.2, parse: nonNegative },
  { flags: '--epsilon-high <e>', help: 'grpo/rlvr: upper clip (default ε; DAPO 0.28; cispo: the ratio cap)', parse: nonNegative },
  { flags: '--delta <d>', help: 'grpo/rlvr: cap on the unclipped ratio (two-sided clipping)', parse: positive },
  { flags: '--scale-rewards <s>', help: 'grpo/rlvr: group | batch | none', default: 'group', parse: choice(SCALE_REWARDS) },
  { flags: '--num-iterations <mu>', help: 'grpo/rlvr: optimizer passes per generated batch (μ)', default: 1, parse: positiveInt },
  { flags: '--importance-sampling-level <l>', help: 'grpo/rlvr: token | sequence (GSPO)', default: 'token', parse: choice(['token', 'sequence'] as const) },
  { flags: '--mask-truncated-completions', help: 'grpo/rlvr: completions without EOS do not count in the loss' },
  { flags: '--top-entropy-quantile <q>', help: 'grpo/rlvr: only the top q fraction of tokens by entropy count (1: all)', default: 1, parse: unit },
  { flags: '--soft-punish-cache <n>', help: 'soft_overlong reward: L_cache (default a quarter of --max-completion-length)', parse: positiveInt },
  { flags: '--log-completions', help: 'grpo/rlvr: write each step\'s prompts, completions, rewards and advantages to DIR/completions.jsonl' },
];

/** --beta and --loss-type are shared with the preference methods; their GRPO meaning and defaults. */
export function grpoSettings(o: Record<string, unknown>): Pick<TrainSettings, 'grpo' | 'rewardFuncs' | 'softPunishCache' | 'logCompletions'> {
  const lossType = (o.lossType as string | undefined) ?? 'dapo';
  if (!(GRPO_LOSS_TYPES as readonly string[]).includes(lossType)) throw new UsageError(`--loss-type ${lossType} is not a GRPO loss (expected ${GRPO_LOSS_TYPES.join(' | ')})`);
  if (o.numGenerations !== undefined && (o.numGenerations as number) < 2) throw new UsageError(`--num-generations ${o.numGenerations}: GRPO needs at least 2 completions per prompt`);
  return {
    rewardFuncs: o.rewardFuncs as string[] | undefined, softPunishCache: o.softPunishCache as number | undefined, logCompletions: !!o.logCompletions,
    grpo: {
      numGenerations: o.numGenerations as number, maxCompletionLength: o.maxCompletionLength as number,
      temperature: o.temperature as number, topP: o.topP as number, topK: o.topK as number,
      beta: (o.beta as number | undefined) ?? 0, epsilon: o.epsilon as number, epsilonHigh: o.epsilonHigh as number | undefined,
      delta: (o.delta as number | undefined) ?? null, lossType: lossType as GrpoLossType, scaleRewards: o.scaleRewards as ScaleRewards,
      numIterations: o.numIterations as number, importanceSamplingLevel: o.importanceSamplingLevel as 'token' | 'sequence',
      maskTruncatedCompletions: !!o.maskTruncatedCompletions, topEntropyQuantile: o.topEntropyQuantile as number,
      rewardWeights: o.rewardWeights as number[] | undefined,
    },
  };
}
