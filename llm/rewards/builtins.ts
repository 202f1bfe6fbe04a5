// The built-in reward functions, by the names --reward-funcs takes.
//   accuracy      1 when the completion's answer equals the gold answer (answer.ts), 0 otherwise,
//                 null when the row has no gold answer (TRL: "gold not parseable → None")
//   format        DeepSeek-R1's layout: <think>…</think> then <answer>…</answer>, nothing else
//                 around them but whitespace (open-r1's format_reward with lenient whitespace)
//   think_format  TRL's think_format_reward: ^<think>(?!.*<think>)(.*?)</think>.*$ (DOTALL)
//   soft_overlong TRL's get_soft_overlong_punishment(max_completion_len, soft_punish_cache), DAPO Eq. 13
import { answersEqual, completionAnswer, goldAnswer } from './answer.ts';
import type { RewardFunction, RewardInputs } from './types.ts';

/** The completion's text (TRL passes conversational completions as [{role: "assistant", content}]). */
export function completionText(c: RewardInputs['completions'][number]): string {
  return typeof c === 'string' ? c : c.map((m) => m.content).join('');
}

export const accuracy: RewardFunction = ({ completions, ...columns }) => completions.map((c, i) => {
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(columns)) if (Array.isArray(v)) row[k] = v[i];
  const gold = goldAnswer(row);
  if (gold === null) return null;
  const pred = completionAnswer(completionText(c));
  return pred !== null && answersEqual(pred, gold) ? 1 : 0;
});

const R1_FORMAT = /^\s*<think>[\s\S]*?<\/think>\s*<answer>[\s\S]*?<\/answer>\s*$/;
export const format: RewardFunction = ({ completions }) => completions.map((c) => (R1_FORMAT.test(completionText(c)) ? 1 : 0));

// Python's re.match anchors at the start only; with DOTALL, "." is [\s\S] and ".*$" reaches the end.
const THINK_FORMAT = /^<think>(?![\s\S]*<think>)([\s\S]*?)<\/think>[\s\S]*$/;
export const thinkFormat: RewardFunction = ({ completions }) => completions.map((c) => (THINK_FORMAT.test(completionText(c)) ? 1 : 0));

export function softOverlong(maxCompletionLen: number, softPunishCache: number): RewardFunction {
  if (!(Number.isInteger(softPunishCache) && softPunishCache > 0 && softPunishCache <= maxCompletionLen)) {
    throw new Error(`soft_overlong: soft punish cache ${softPunishCache} must be an integer in [1, max completion length ${maxCompletionLen}]`);
  }
  return ({ completionIds }) => completionIds.map((ids) => {
    const n = ids.length, start = maxCompletionLen - softPunishCache;
    if (n <= start) return 0;
    if (n <= maxCompletionLen) return (start - n) / softPunishCache;
    return -1;
  });
}

export const BUILTIN_REWARDS = ['accuracy', 'format', 'think_format', 'soft_overlong'] as const;
