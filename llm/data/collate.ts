// Examples -> fixed-shape batches of plain number arrays ([rows][tokens]); the trainer turns them
// into tensors.
//
// padding: each row is one example, right-padded to the longest in the batch (optionally to a
//          multiple); attentionMask is 1 on real tokens. Padding labels are IGNORE_INDEX.
// packing: examples are laid end to end in rows of exactly seqLength tokens, each ending in EOS,
//          labels kept. positionIds restart at 0 for each example and segmentIds number the examples
//          in a row (1, 2, ...; 0 is padding), so attention can be confined to one example (the
//          varlen / block-diagonal masking TRL's padding-free packing relies on).
import { IGNORE_INDEX, countLossTokens, type TokenizedExample } from './labels.ts';

export interface Batch {
  kind: 'padded' | 'packed';
  /** [rows, tokens] */
  shape: [number, number];
  inputIds: number[][];
  labels: number[][];
  /** 1 where a real token is, 0 on padding. */
  attentionMask: number[][];
  /** Position of each token within its example (RoPE); 0 on padding. */
  positionIds: number[][];
  /** Packed batches: which example of the row a token belongs to (1-based; 0 = padding). */
  segmentIds?: number[][];
  /** Tokens the loss sees (labels[:, 1:] != IGNORE_INDEX, per row, summed). */
  lossTokens: number;
  /** Examples in the batch. */
  examples: number;
}

export interface PaddingOptions {
  /** Id written into padding positions (masked out of attention and loss, so any valid id works). Default 0. */
  padId?: number;
  /** Round the padded length up to a multiple of this (e.g. 8 or 32 for kernel tiles). */
  padToMultipleOf?: number;
}

function roundUp(n: number, multiple: number | undefined): number {
  return multiple && multiple > 1 ? Math.ceil(n / multiple) * multiple : n;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function padBatch(examples: readonly TokenizedExample[], options: PaddingOptions): Batch {
  if (examples.length === 0) throw new Error('padBatch: no examples');
  const width = roundUp(Math.max(...examples.map((e) => e.inputIds.length)), options.padToMultipleOf);
  const batch: Batch = { kind: 'padded', shape: [examples.length, width], inputIds: [], labels: [], attentionMask: [], positionIds: [], lossTokens: 0, examples: examples.length };
  for (const ex of examples) {
    const pad = width - ex.inputIds.length;
    batch.inputIds.push([...ex.inputIds, ...new Array<number>(pad).fill(options.padId ?? 0)]);
    batch.labels.push([...ex.labels, ...new Array<number>(pad).fill(IGNORE_INDEX)]);
    batch.attentionMask.push([...new Array<number>(ex.inputIds.length).fill(1), ...new Array<number>(pad).fill(0)]);
    batch.positionIds.push([...range(ex.inputIds.length), ...new Array<number>(pad).fill(0)]);
    batch.lossTokens += countLossTokens(ex.labels);
  }
  return batch;
}

export interface PackingOptions {
  /** Tokens per packed row. */
  seqLength: number;
  /** Id in the unused tail of a row. Default 0. */
  padId?: number;
  /** Separator put after an example that does not already end in it (null: none). */
  eosId: number | null;
}

/** One row being filled. */
export class PackedRow {
  readonly inputIds: number[] = [];
  readonly labels: number[] = [];
  readonly positionIds: number[] = [];
  readonly segmentIds: number[] = [];
  examples = 0;
  lossTokens = 0;

  constructor(readonly seqLength: number) {}

  get free(): number {
    return this.seqLength - this.inputIds.length;
  }

  add(ex: TokenizedExample): void {
    if (ex.inputIds.length > this.free) throw new Error(`PackedRow: an example of ${ex.inputIds.length} tokens does not fit in ${this.free}`);
    this.examples++;
    for (let i = 0; i < ex.inputIds.length; i++) {
      this.inputIds.push(ex.inputIds[i]);
      // As TRL's padding-free collator (labels[position_ids == 0] = -100): the previous example's
      // last token must not learn to predict this one's first.
      this.labels.push(i === 0 ? IGNORE_INDEX : ex.labels[i]);
      this.positionIds.push(i);
      this.segmentIds.push(this.examples);
    }
    this.lossTokens += countLossTokens(ex.labels);
  }
}

/**
 * An example as it goes into a packed row: cut to seqLength, and ended with EOS (label
 * IGNORE_INDEX: a separator, not something the row's data asked to train on) when it does not
 * already end with it.
 */
export function packable(ex: TokenizedExample, options: PackingOptions): TokenizedExample {
  let { inputIds, labels } = ex;
  const needsEos = options.eosId !== null && inputIds[inputIds.length - 1] !== options.eosId;
  if (needsEos) {
    inputIds = [...inputIds, options.eosId as number];
    labels = [...labels, IGNORE_INDEX];
  }
  if (inputIds.length > options.seqLength) {
    inputIds = inputIds.slice(0, options.seqLength);
    labels = labels.slice(0, options.seqLength);
  }
  return { inputIds, labels };
}

/** Pads the rows to seqLength and stacks them into a batch. */
export function packedBatch(rows: readonly PackedRow[], options: PackingOptions): Batch {
  if (rows.length === 0) throw new Error('packedBatch: no rows');
  const T = options.seqLength;
  const batch: Batch = {
    kind: 'packed',
    shape: [rows.length, T],
    inputIds: [],
    labels: [],
    attentionMask: [],
    positionIds: [],
    segmentIds: [],
    lossTokens: 0,
    examples: 0,
  };
  for (const r of rows) {
    const pad = T - r.inputIds.length;
    batch.inputIds.push([...r.inputIds, ...new Array<number>(pad).fill(options.padId ?? 0)]);
    batch.labels.push([...r.labels, ...new Array<number>(pad).fill(IGNORE_INDEX)]);
    batch.attentionMask.push([...new Array<number>(r.inputIds.length).fill(1), ...new Array<number>(pad).fill(0)]);
    batch.positionIds.push([...r.positionIds, ...new Array<number>(pad).fill(0)]);
    batch.segmentIds!.push([...r.segmentIds, ...new Array<number>(pad).fill(0)]);
    batch.lossTokens += r.lossTokens;
    batch.examples += r.examples;
  }
  return batch;
}

/** Packs examples in the given order (next-fit: a row is closed when the next example does not fit). */
export function packExamples(examples: readonly TokenizedExample[], options: PackingOptions): PackedRow[] {
  const rows: PackedRow[] = [];
  let row: PackedRow | null = null;
  for (const ex of examples) {
    const p = packable(ex, options);
    if (row === null || p.inputIds.length > row.free) rows.push((row = new PackedRow(options.seqLength)));
    row.add(p);
  }
  return rows;
}
