// Padding, packing, the resumable iterator and the validation split, on small examples whose
// token ids are written out so shapes and contents can be checked exactly.
import { describe, expect, it } from 'vitest';
import { packExamples, packedBatch, padBatch } from '../../llm/data/collate.ts';
import { BatchIterator, type BatchIteratorOptions, type EpochBatch } from '../../llm/data/iterator.ts';
import { IGNORE_INDEX as X, type TokenizedExample } from '../../llm/data/labels.ts';
import { splitTrainVal } from '../../llm/data/split.ts';

const EOS = 2;
const PAD = 0;

/** Example k: ids [1, 10k+1, 10k+2, ..., EOS] of the given length, prompt (first `masked`) not trained. */
function ex(k: number, length: number, masked = 1): TokenizedExample {
  const inputIds = [1, ...Array.from({ length: length - 2 }, (_, i) => 10 * k + i + 1), EOS];
  return { inputIds, labels: inputIds.map((id, i) => (i < masked ? X : id)) };
}

describe('padding', () => {
  it('right-pads to the longest, with attention mask, positions and ignored labels', () => {
    const b = padBatch([ex(1, 3), ex(2, 5, 2)], { padId: PAD });
    expect(b.shape).toEqual([2, 5]);
    expect(b.inputIds).toEqual([
      [1, 11, EOS, PAD, PAD],
      [1, 21, 22, 23, EOS],
    ]);
    expect(b.labels).toEqual([
      [X, 11, EOS, X, X],
      [X, X, 22, 23, EOS],
    ]);
    expect(b.attentionMask).toEqual([
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1],
    ]);
    expect(b.positionIds).toEqual([
      [0, 1, 2, 0, 0],
      [0, 1, 2, 3, 4],
    ]);
    expect(b.lossTokens).toBe(2 + 3);
    expect(b.examples).toBe(2);
  });

  it('pads to a multiple when asked', () => {
    expect(padBatch([ex(1, 5)], { padId: 7, padToMultipleOf: 8 }).inputIds[0]).toEqual([1, 11, 12, 13, EOS, 7, 7, 7]);
  });
});

describe('packing', () => {
  it('fills fixed-length rows, restarts positions, numbers segments, masks each first label', () => {
    // 4 + 3 fit in 8; 5 does not fit after them; 5 + 2 fit in the next row. Example 2 trains on
    // its first token (a text row), which packing must still mask: nothing predicts across examples.
    const examples = [ex(1, 4), ex(2, 3, 0), ex(3, 5), ex(4, 2)];
    const opts = { seqLength: 8, padId: PAD, eosId: EOS };
    const rows = packExamples(examples, opts);
    const b = packedBatch(rows, opts);
    expect(b.shape).toEqual([2, 8]);
    expect(b.inputIds).toEqual([
      [1, 11, 12, EOS, 1, 21, EOS, PAD],
      [1, 31, 32, 33, EOS, 1, EOS, PAD],
    ]);
    expect(b.labels).toEqual([
      [X, 11, 12, EOS, X, 21, EOS, X],
      [X, 31, 32, 33, EOS, X, EOS, X],
    ]);
    expect(b.positionIds).toEqual([
      [0, 1, 2, 3, 0, 1, 2, 0],
      [0, 1, 2, 3, 4, 0, 1, 0],
    ]);
    expect(b.segmentIds).toEqual([
      [1, 1, 1, 1, 2, 2, 2, 0],
      [1, 1, 1, 1, 1, 2, 2, 0],
    ]);
    expect(b.attentionMask).toEqual([
      [1, 1, 1, 1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1, 1, 1, 0],
    ]);
    expect(b.examples).toBe(4);
    expect(b.lossTokens).toBe(3 + 2 + 4 + 1);
  });

  it('separates examples that lack EOS with an untrained EOS and cuts overlong ones', () => {
    const noEos: TokenizedExample = { inputIds: [1, 5, 6], labels: [X, 5, 6] };
    const long = ex(9, 12);
    const b = packedBatch(packExamples([noEos, long], { seqLength: 6, padId: PAD, eosId: EOS }), { seqLength: 6, padId: PAD, eosId: EOS });
    expect(b.inputIds).toEqual([
      [1, 5, 6, EOS, PAD, PAD],
      [1, 91, 92, 93, 94, 95],
    ]);
    expect(b.labels[0]).toEqual([X, 5, 6, X, X, X]);
  });
});

function collect(it: BatchIterator): EpochBatch[] {
  return [...it];
}

/** Which examples a padded batch holds, by their distinctive second token (10k + 1). */
function ids(b: EpochBatch): number[] {
  return b.inputIds.map((r) => (r[1] - 1) / 10);
}

describe('BatchIterator', () => {
  const examples = Array.from({ length: 10 }, (_, k) => ex(k + 1, 3 + (k % 4)));
  const padding: BatchIteratorOptions = { batchSize: 3, epochs: 3, seed: 42, collate: { kind: 'padding', padId: PAD } };

  it('visits every example once per epoch in a seeded order that changes per epoch', () => {
    const batches = collect(new BatchIterator(examples, padding));
    expect(batches.map((b) => b.epoch)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(batches.map((b) => b.shape[0])).toEqual([3, 3, 3, 1, 3, 3, 3, 1, 3, 3, 3, 1]);
    const epochs = [0, 1, 2].map((e) => batches.filter((b) => b.epoch === e).flatMap(ids));
    for (const order of epochs) expect([...order].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(epochs[0]).not.toEqual(epochs[1]);
    expect(epochs[0]).not.toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Same seed, same stream; another seed, another order.
    expect(collect(new BatchIterator(examples, padding)).flatMap(ids)).toEqual(epochs.flat());
    expect(collect(new BatchIterator(examples, { ...padding, seed: 7 })).flatMap(ids)).not.toEqual(epochs.flat());
    expect(new BatchIterator(examples, padding).batchesPerEpoch).toBe(4);
  });

  it('shuffle: false keeps file order; dropLast drops the short batch', () => {
    const ordered = collect(new BatchIterator(examples, { ...padding, epochs: 1, shuffle: false }));
    expect(ordered.flatMap(ids)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const dropped = collect(new BatchIterator(examples, { ...padding, dropLast: true }));
    expect(dropped.map((b) => b.shape[0])).toEqual([3, 3, 3, 3, 3, 3, 3, 3, 3]);
  });

  const packing: BatchIteratorOptions = { batchSize: 2, epochs: 2, seed: 3, collate: { kind: 'packing', seqLength: 8, padId: PAD, eosId: EOS } };

  for (const [name, options] of [
    ['padding', padding],
    ['packing', packing],
  ] as const) {
    it(`${name}: a resumed iterator yields exactly the remaining batches`, () => {
      const full: EpochBatch[] = [];
      const states: string[] = [];
      const first = new BatchIterator(examples, options);
      states.push(JSON.stringify(first.state()));
      for (let b = first.next(); b; b = first.next()) {
        full.push(b);
        states.push(JSON.stringify(first.state()));
      }
      expect(full.length).toBeGreaterThan(4);
      for (let k = 0; k < states.length; k++) {
        const resumed = new BatchIterator(examples, options, JSON.parse(states[k]));
        expect(collect(resumed)).toEqual(full.slice(k));
      }
    });
  }

  it('packing covers every example once per epoch', () => {
    const batches = collect(new BatchIterator(examples, packing));
    for (const e of [0, 1]) {
      const seen = batches.filter((b) => b.epoch === e).reduce((n, b) => n + b.examples, 0);
      expect(seen).toBe(10);
      for (const b of batches) for (const row of b.inputIds) expect(row).toHaveLength(8);
    }
  });

  it('refuses a state from other data or a damaged state', () => {
    const state = new BatchIterator(examples, padding).state();
    expect(() => new BatchIterator(examples.slice(1), padding, state)).toThrow(/saved over 10 examples, this dataset has 9/);
    expect(() => new BatchIterator(examples, padding, { ...state, rngState: [1, 2] })).toThrow(/rngState/);
    expect(() => new BatchIterator(examples, padding, { ...state, index: 11 })).toThrow(/bad index/);
  });
});

describe('validation split', () => {
  const rows = Array.from({ length: 100 }, (_, i) => i);

  it('is deterministic by seed, disjoint, complete, and keeps order', () => {
    const a = splitTrainVal(rows, { valFraction: 0.1, seed: 1 });
    expect(a).toEqual(splitTrainVal(rows, { valFraction: 0.1, seed: 1 }));
    expect(a.val).toHaveLength(10);
    expect(a.train).toHaveLength(90);
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(rows);
    expect(a.val).toEqual([...a.val].sort((x, y) => x - y));
    expect(splitTrainVal(rows, { valFraction: 0.1, seed: 2 }).val).not.toEqual(a.val);
  });

  it('holds out at least one row and refuses fractions outside [0, 1)', () => {
    expect(splitTrainVal([1, 2, 3], { valFraction: 0.01 }).val).toHaveLength(1);
    expect(splitTrainVal([1, 2, 3], { valFraction: 0 }).val).toHaveLength(0);
    expect(() => splitTrainVal(rows, { valFraction: 1 })).toThrow(/valFraction/);
  });
});
