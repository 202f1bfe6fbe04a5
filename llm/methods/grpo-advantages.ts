// Group-relative advantages of GRPO, as TRL 1.x computes them (trl/trainer/grpo_trainer.py,
// _generate_and_score_completions, multi_objective_aggregation "sum_then_normalize"):
//   r_i = nansum_k w_k · r_ik           (NaN where every function returned null: "unscorable")
//   A_i = r_i − nanmean(r over i's group of G completions)
//   scale "group": A_i / (nanstd(group) + 1e-4), "batch": / (nanstd(all r) + 1e-4), "none": as is
//   A_i = 0 where r_i is NaN (nan_to_num)
// nanstd is Bessel-corrected (TRL's trl/trainer/utils.py nanstd: Σ(x − mean)² / (n − 1)).
// Rewards live on the host (reward functions are JavaScript), so this is plain float64 arithmetic.

export type ScaleRewards = 'group' | 'batch' | 'none';
export const SCALE_REWARDS: readonly ScaleRewards[] = ['group', 'batch', 'none'];

export interface Advantages {
  /** Per completion [N]. */
  advantages: number[];
  /** Weighted reward per completion [N] (NaN when unscorable). */
  rewards: number[];
  /** The std each advantage was (or, for "none", would have been) divided by: 0-std groups are logged. */
  std: number[];
}

/** nanmean / Bessel-corrected nanstd of the finite-or-infinite (non-NaN) values; NaN when too few. */
export function nanmean(xs: readonly number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
}

export function nanstd(xs: readonly number[]): number {
  const v = xs.filter((x) => !Number.isNaN(x));
  const m = nanmean(v);
  // torch: variance over n − 1 values; n = 1 gives 0/0 = NaN, as TRL's nanstd.
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

/**
 * rewardsPerFunc [N][K] (null: the function did not score this completion), weights [K], completions
 * ordered prompt by prompt (G consecutive completions share a prompt).
 */
export function groupAdvantages(rewardsPerFunc: readonly (readonly (number | null)[])[], weights: readonly number[],
  G: number, scale: ScaleRewards): Advantages {
  const N = rewardsPerFunc.length;
  if (!Number.isInteger(G) || G < 1 || N % G !== 0) throw new Error(`grpo advantages: ${N} completions are not groups of ${G}`);
  if (!SCALE_REWARDS.includes(scale)) throw new Error(`grpo advantages: scale_rewards "${scale}" (expected ${SCALE_REWARDS.join(', ')})`);
  const rewards = rewardsPerFunc.map((row, i) => {
    if (row.length !== weights.length) throw new Error(`grpo advantages: completion ${i} has ${row.length} rewards for ${weights.length} weights`);
    if (row.every((r) => r === null || Number.isNaN(r))) return NaN;
    return row.reduce<number>((s, r, k) => (r === null || Number.isNaN(r) ? s : s + weights[k] * r), 0);
  });
  const groups = Array.from({ length: N / G }, (_, g) => rewards.slice(g * G, (g + 1) * G));
  const mean = groups.flatMap((grp) => new Array<number>(G).fill(nanmean(grp)));
  let std: number[];
  if (scale === 'batch') std = new Array<number>(N).fill(N > 1 ? nanstd(rewards) : 0);
  else std = groups.flatMap((grp) => new Array<number>(G).fill(G > 1 ? nanstd(grp) : 0));
  const advantages = rewards.map((r, i) => {
    const a = scale === 'none' ? r - mean[i] : (r - mean[i]) / (std[i] + 1e-4);
    return Number.isNaN(a) ? 0 : a;
  });
  return { advantages, rewards, std };
}
