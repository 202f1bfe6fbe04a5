// What a reward function receives and returns (TRL's reward-function signature, in JavaScript):
//   reward({ prompts, completions, completionIds, ...columns }) → (number | null)[] or a promise of it,
// one score per completion; columns are the dataset's other columns, one value per completion.
import type { ChatMessage } from '../tokenizers/tokenizer.ts';

export interface RewardInputs {
  /** Each completion's prompt: text, or messages for conversational data. */
  prompts: (string | ChatMessage[])[];
  /** Text, or [{ role: 'assistant', content }] for conversational data (as TRL). */
  completions: (string | ChatMessage[])[];
  completionIds: number[][];
  /** The training step (1-based) the completions were sampled for. */
  step: number;
  [column: string]: unknown;
}

export type RewardScores = (number | null)[];
export type RewardFunction = (inputs: RewardInputs) => RewardScores | Promise<RewardScores>;

export interface NamedReward { name: string; fn: RewardFunction }
