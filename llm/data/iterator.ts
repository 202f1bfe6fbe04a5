// A seeded, shuffling, resumable batch iterator over tokenized examples.
//
// Each epoch visits every example once in an order drawn from the generator; batches never span
// epochs (the last one of an epoch may be smaller, or dropped with dropLast). The position is
// { epoch, index, rngState }: index counts the examples of this epoch's order already consumed, and
// rngState is the generator's state before it drew this epoch's order, so the order can be drawn
// again. A checkpoint saves state() after a step; an iterator constructed with it yields exactly
// the batches that were still to come.
//
// The iterator is generic over the example type and the collate step: SFT examples go through the
// built-in padding/packing collates (Collate), anything else (preference pairs, KTO examples)
// through a collate function that turns a fixed-size group of examples into a batch.
import { Generator } from '../../engine/random.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { packable, packedBatch, padBatch, PackedRow, type Batch, type PackingOptions, type PaddingOptions } from './collate.ts';
import type { TokenizedExample } from './labels.ts';
import { permutation } from './shuffle.ts';

export interface IteratorState {
  epoch: number;
  index: number;
  rngState: number[];
  /** Number of examples the state was taken over (a resume on other data is refused). */
  examples: number;
}

export type Collate = ({ kind: 'padding' } & PaddingOptions) | ({ kind: 'packing' } & PackingOptions);

/**
 * Turns one batch's examples (in iteration order, at most batchSize of them) into a batch.
 * Declared as a method type so that it is bivariant in E: an iterator over SftExamples stays
 * usable where an iterator over TokenizedExamples is expected (the trainer's signature).
 */
export type CollateFn<E, B> = { collate(examples: E[]): B }['collate'];

export interface BatchIteratorOptions<E = TokenizedExample, B = Batch> {
  /** Examples per batch (padding, collate functions) or packed rows per batch (packing). */
  batchSize: number;
  /** The built-in padding/packing (SFT examples and Batch only), or a collate function. */
  collate: Collate | CollateFn<E, B>;
  /** Seed of the shuffling generator. Default 0. */
  seed?: number;
  /** Shuffle each epoch (default true); false keeps file order. */
  shuffle?: boolean;
  /** Number of passes over the data (default 1; Infinity for an endless stream). */
  epochs?: number;
  /** Drop an epoch's last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
}

/** A batch and the epoch it belongs to (0-based). */
export type EpochBatch<B = Batch> = B & { epoch: number };

export class BatchIterator<E = TokenizedExample, B = Batch> implements Iterable<EpochBatch<B>> {
  private readonly examples: readonly E[];
  private readonly options: BatchIteratorOptions<E, B>;
  private readonly epochs: number;
  private readonly rng: Generator;
  private epoch = 0;
  private index = 0;
  private epochStart: number[] = [];
  private order: number[] = [];

  constructor(examples: readonly E[], options: BatchIteratorOptions<E, B>, state?: IteratorState) {
    if (!(Number.isInteger(options.batchSize) && options.batchSize > 0)) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    const epochs = options.epochs ?? 1;
    if (!(epochs === Infinity || (Number.isInteger(epochs) && epochs >= 0))) throw new RangeError(`epochs must be a non-negative integer or Infinity, got ${epochs}`);
    if (typeof options.collate !== 'function' && options.collate.kind === 'packing') {
      const T = options.collate.seqLength;
      if (!(Number.isInteger(T) && T > 0)) throw new RangeError(`packing seqLength must be a positive integer, got ${T}`);
    }
    if (examples.length === 0) throw new Error('BatchIterator: no examples');
    this.examples = examples;
    this.options = options;
    this.epochs = epochs;
    this.rng = new Generator(options.seed ?? 0);
    if (state) this.restore(state);
    else this.startEpoch();
  }

  /** The position after the last batch returned, as plain JSON. */
  state(): IteratorState {
    return { epoch: this.epoch, index: this.index, rngState: [...this.epochStart], examples: this.examples.length };
  }

  /** Batches per epoch for padding (for schedules); null for packing, where it depends on the order. */
  get batchesPerEpoch(): number | null {
    if (typeof this.options.collate !== 'function' && this.options.collate.kind === 'packing') return null;
    const n = this.examples.length;
    const b = this.options.batchSize;
    return this.options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  next(): EpochBatch<B> | null {
    const collate = this.options.collate;
    while (this.epoch < this.epochs) {
      // The built-in collates exist for SFT examples, whose batches are Batch (E, B at their defaults).
      const batch =
        typeof collate === 'function'
          ? this.nextGroup(collate)
          : ((collate.kind === 'padding' ? this.nextPadded(collate) : this.nextPacked(collate)) as EpochBatch<B> | null);
      if (batch) return batch;
      this.epoch++;
      this.index = 0;
      this.startEpoch();
    }
    return null;
  }

  *[Symbol.iterator](): Iterator<EpochBatch<B>> {
    for (let b = this.next(); b !== null; b = this.next()) yield b;
  }

  private startEpoch(): void {
    this.epochStart = this.rng.getState();
    const n = this.examples.length;
    this.order = (this.options.shuffle ?? true) ? permutation(n, this.rng) : Array.from({ length: n }, (_, i) => i);
  }

  private restore(state: IteratorState): void {
    const bad = (why: string): never => {
      throw new Error(`cannot resume the data iterator: ${why}`);
    };
    if (state.examples !== this.examples.length) bad(`the state was saved over ${state.examples} examples, this dataset has ${this.examples.length}`);
    if (!Array.isArray(state.rngState) || state.rngState.length !== 4 || !state.rngState.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)) bad('rngState must be 4 unsigned 32-bit integers');
    if (!Number.isInteger(state.epoch) || state.epoch < 0) bad(`bad epoch ${state.epoch}`);
    if (!Number.isInteger(state.index) || state.index < 0 || state.index > this.examples.length) bad(`bad index ${state.index}`);
    this.rng.setState(state.rngState);
    this.epoch = state.epoch;
    this.startEpoch();
    this.index = state.index;
  }

  /** The next batchSize examples of this epoch's order (fewer at its end), or null. */
  private take(): E[] | null {
    const n = this.examples.length;
    const size = Math.min(this.options.batchSize, n - this.index);
    if (size <= 0 || (this.options.dropLast && size < this.options.batchSize)) return null;
    const picked = this.order.slice(this.index, this.index + size).map((i) => this.examples[i]);
    this.index += size;
    return picked;
  }

  private nextGroup(collate: CollateFn<E, B>): EpochBatch<B> | null {
    const picked = this.take();
    return picked === null ? null : { ...collate(picked), epoch: this.epoch };
  }

  private nextPadded(collate: PaddingOptions): EpochBatch | null {
    const picked = this.take() as TokenizedExample[] | null;
    return picked === null ? null : { ...padBatch(picked, collate), epoch: this.epoch };
  }

  private nextPacked(collate: PackingOptions): EpochBatch | null {
    const n = this.examples.length;
    const rows: PackedRow[] = [];
    let row: PackedRow | null = null;
    let index = this.index;
    while (index < n) {
      const ex = packable(this.examples[this.order[index]] as TokenizedExample, collate);
      if (row !== null && ex.inputIds.length > row.free) {
        // The row is full; the example that did not fit opens the next batch if this one is full.
        rows.push(row);
        row = null;
        if (rows.length === this.options.batchSize) break;
      }
      row ??= new PackedRow(collate.seqLength);
      row.add(ex);
      index++;
    }
    if (row !== null) rows.push(row);
    if (rows.length === 0 || (this.options.dropLast && rows.length < this.options.batchSize)) return null;
    this.index = index;
    return { ...packedBatch(rows, collate), epoch: this.epoch };
  }
}

export interface SftBatchOptions {
  batchSize: number;
  /** Pack examples into rows of `seqLength` tokens instead of padding one example per row. */
  packing?: boolean;
  /** Row length when packing (usually the dataset's maxLength). */
  seqLength?: number;
  padToMultipleOf?: number;
  /** Padding id; default the tokenizer's pad id when it exposes one, else 0. */
  padId?: number;
  seed?: number;
  shuffle?: boolean;
  epochs?: number;
  dropLast?: boolean;
}

/** The tokenizer's pad id when it has one; 0 otherwise (padding is masked, so 0 is safe). */
export function padIdOf(tokenizer: Tokenizer): number {
  const padId = (tokenizer as Tokenizer & { padId?: number | null }).padId;
  return typeof padId === 'number' ? padId : 0;
}

/** A BatchIterator set up from a tokenizer: its pad id, and its EOS as the packing separator. */
export function sftBatchIterator(examples: readonly TokenizedExample[], tokenizer: Tokenizer, options: SftBatchOptions, state?: IteratorState): BatchIterator {
  const padId = options.padId ?? padIdOf(tokenizer);
  let collate: Collate;
  if (options.packing) {
    if (options.seqLength === undefined) throw new Error('packing needs seqLength (the length of a packed row)');
    collate = { kind: 'packing', seqLength: options.seqLength, padId, eosId: tokenizer.eosId };
  } else {
    collate = { kind: 'padding', padId, padToMultipleOf: options.padToMultipleOf };
  }
  const { batchSize, seed, shuffle, epochs, dropLast } = options;
  return new BatchIterator(examples, { batchSize, collate, seed, shuffle, epochs, dropLast }, state);
}
