// The implicit prompt of a preference pair given as two whole dialogues (Anthropic hh-rlhf:
// "\n\nHuman: ...\n\nAssistant: ..."): the longest common prefix, as TRL's `extract_prompt`
// (trl/data_utils.py, unchanged from 0.12 through 1.x) computes it, character by character for
// strings and message by message for message lists:
//
//   for idx in range(min(len(chosen), len(rejected))):
//       if chosen[idx] != rejected[idx]:
//           if chosen[idx - 1] == " ": idx -= 1     # the space before the answer goes with it
//           break
//   prompt, chosen, rejected = chosen[:idx], chosen[idx:], rejected[idx:]
//
// So "...\n\nAssistant: Yes" / "...\n\nAssistant: No" gives the prompt "...\n\nAssistant:" and the
// completions " Yes" / " No". Two quirks of the Python are kept on purpose so the same files give
// the same split: when the shorter side is a prefix of the longer, the loop ends without `break`
// and idx is the LAST index (len - 1), so one unit of the shared text goes to the completions; and
// a common prefix that ends inside a word splits the word ("I think" / "I don't" -> prompt ends
// "...Assistant: I", completions " think" / " don't").
// One quirk is not kept: a difference at index 0 makes Python read chosen[-1] (the LAST character);
// here a pair with no common prefix gets an empty prompt.
import { RowError } from '../formats.ts';

export interface ExtractedPrompt<T> {
  prompt: T;
  chosen: T;
  rejected: T;
}

export function extractPrompt(chosen: string, rejected: string): ExtractedPrompt<string>;
export function extractPrompt<U>(chosen: U[], rejected: U[], equal: (a: U, b: U) => boolean): ExtractedPrompt<U[]>;
export function extractPrompt<U>(chosen: string | U[], rejected: string | U[], equal?: (a: U, b: U) => boolean): ExtractedPrompt<string> | ExtractedPrompt<U[]> {
  if (typeof chosen === 'string' || typeof rejected === 'string') {
    // Python indexes strings by code point; so does this (an emoji is one unit, never split).
    const split = commonPrefixSplit(Array.from(chosen as string), Array.from(rejected as string), (a, b) => a === b);
    return { prompt: split.prompt.join(''), chosen: split.chosen.join(''), rejected: split.rejected.join('') };
  }
  return commonPrefixSplit(chosen, rejected, equal ?? ((a, b) => a === b));
}

function commonPrefixSplit<U>(chosen: U[], rejected: U[], equal: (a: U, b: U) => boolean): ExtractedPrompt<U[]> {
  const n = Math.min(chosen.length, rejected.length);
  if (n === 0) throw new RowError(chosen.length === 0 ? 'chosen' : 'rejected', 'empty, so no prompt can be told apart from the answer');
  if (chosen.length === rejected.length && Array.from({ length: n }, (_, i) => i).every((i) => equal(chosen[i], rejected[i]))) {
    throw new RowError('rejected', 'identical to chosen, so the pair prefers nothing');
  }
  let idx = 0;
  let broke = false;
  for (; idx < n; idx++) {
    if (!equal(chosen[idx], rejected[idx])) {
      if (idx > 0 && (chosen[idx - 1] as unknown) === ' ') idx -= 1;
      broke = true;
      break;
    }
  }
  if (!broke) idx = n - 1; // Python's loop variable after a loop that ran to the end.
  return { prompt: chosen.slice(0, idx), chosen: chosen.slice(idx), rejected: rejected.slice(idx) };
}
