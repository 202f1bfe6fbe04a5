export { loadRewardFunctions, scoreCompletions } from './load.ts';
export type { RewardLoadOptions } from './load.ts';
export { accuracy, format, thinkFormat, softOverlong, completionText, BUILTIN_REWARDS } from './builtins.ts';
export { completionAnswer, goldAnswer, answersEqual, parseNumber, lastNumber } from './answer.ts';
export type { RewardFunction, RewardInputs, RewardScores, NamedReward } from './types.ts';
