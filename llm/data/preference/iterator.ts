// Seeded, resumable iterators over preference and KTO examples: the generic BatchIterator with the
// preference collates (fixed numbers of pairs / examples per batch; the last batch of an epoch may
// be smaller, or dropped with dropLast). A KTO batch's KL rows are drawn from the same batch, so
// they change with the shuffle, as TRL's do.
import type { Tokenizer } from '../../tokenizers/tokenizer.ts';
import { BatchIterator, padIdOf, type IteratorState } from '../iterator.ts';
import { collateKto, collatePreference, type KtoBatch, type KtoExample, type PreferenceBatch, type PreferenceExample } from './collate.ts';

export interface PreferenceBatchOptions {
  /** Pairs (or KTO examples) per batch. A pair batch has 2 × batchSize rows. */
  batchSize: number;
  padToMultipleOf?: number;
  /** Padding id; default the tokenizer's pad id when it exposes one, else 0. */
  padId?: number;
  seed?: number;
  shuffle?: boolean;
  epochs?: number;
  dropLast?: boolean;
}

export function preferenceBatchIterator(
  examples: readonly PreferenceExample[],
  tokenizer: Tokenizer,
  options: PreferenceBatchOptions,
  state?: IteratorState,
): BatchIterator<PreferenceExample, PreferenceBatch> {
  const pad = { padId: options.padId ?? padIdOf(tokenizer), padToMultipleOf: options.padToMultipleOf };
  const { batchSize, seed, shuffle, epochs, dropLast } = options;
  return new BatchIterator(examples, { batchSize, collate: (group: PreferenceExample[]) => collatePreference(group, pad), seed, shuffle, epochs, dropLast }, state);
}

export function ktoBatchIterator(examples: readonly KtoExample[], tokenizer: Tokenizer, options: PreferenceBatchOptions, state?: IteratorState): BatchIterator<KtoExample, KtoBatch> {
  const pad = { padId: options.padId ?? padIdOf(tokenizer), padToMultipleOf: options.padToMultipleOf };
  const { batchSize, seed, shuffle, epochs, dropLast } = options;
  return new BatchIterator(examples, { batchSize, collate: (group: KtoExample[]) => collateKto(group, pad), seed, shuffle, epochs, dropLast }, state);
}
