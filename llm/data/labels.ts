// Label conventions shared by tokenization and batching (Hugging Face's): labels are the input ids
// themselves where a token is trained on and IGNORE_INDEX where it is not; the shift to
// next-token targets happens in the loss, so labels[0] never counts.

export const IGNORE_INDEX = -100;

/** One tokenized training example. */
export interface TokenizedExample {
  inputIds: number[];
  labels: number[];
}

/** Tokens the loss sees after the shift (labels[1:] that are not IGNORE_INDEX). */
export function countLossTokens(labels: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < labels.length; i++) if (labels[i] !== IGNORE_INDEX) n++;
  return n;
}

/** Length of the longest common prefix: where a prompt's tokens stop matching the whole's. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
