// Preference batches on hand-written token ids: the pair layout (chosen rows, then rejected rows),
// label masks, TRL's truncation rules, KTO's mismatched KL rows, and resuming the iterator.
import { describe, expect, it } from 'vitest';
import { BatchIterator, type EpochBatch } from '../../llm/data/iterator.ts';
import { IGNORE_INDEX as X } from '../../llm/data/labels.ts';
import {
  checkTruncationOptions,
  collateKto,
  collatePreference,
  completionRow,
  limitPrompt,
  type KtoExample,
  type PreferenceBatch,
  type PreferenceExample,
} from '../../llm/data/preference/index.ts';

const at = (row: number) => ({ source: 'hand.jsonl', row, line: row, cite: 'line' as const });

function pair(row: number, prompt: number[], chosen: number[], rejected: number[], extra: Partial<PreferenceExample> = {}): PreferenceExample {
  return { ...at(row), format: 'prompt-chosen-rejected', prompt, chosen, rejected, ...extra };
}

function kto(row: number, prompt: number[], completion: number[], label: boolean, maxLength?: number): KtoExample {
  return { ...at(row), format: 'prompt-completion-label', prompt, completion, label, ...(maxLength ? { maxLength } : {}) };
}

describe('pair batches', () => {
  it('puts the chosen rows first, then the rejected rows, padded to one width, labels only on completions', () => {
    const b = collatePreference([pair(1, [1, 10, 11], [20, 2], [30, 31, 32, 2]), pair(2, [1, 12], [21, 22, 2], [33, 2])], { padId: 0 });
    expect(b.shape).toEqual([4, 7]);
    expect(b.pairs).toBe(2);
    expect(b.examples).toBe(2);
    expect(b.inputIds).toEqual([
      [1, 10, 11, 20, 2, 0, 0],
      [1, 12, 21, 22, 2, 0, 0],
      [1, 10, 11, 30, 31, 32, 2],
      [1, 12, 33, 2, 0, 0, 0],
    ]);
    expect(b.labels).toEqual([
      [X, X, X, 20, 2, X, X],
      [X, X, 21, 22, 2, X, X],
      [X, X, X, 30, 31, 32, 2],
      [X, X, 33, 2, X, X, X],
    ]);
    expect(b.attentionMask).toEqual([
      [1, 1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0, 0],
    ]);
    expect(b.positionIds[3]).toEqual([0, 1, 2, 3, 0, 0, 0]);
    expect(b.lossTokens).toBe(2 + 3 + 4 + 2);
  });

  it('pads to a multiple when asked', () => {
    const b = collatePreference([pair(1, [1, 10], [20], [30])], { padId: 9, padToMultipleOf: 8 });
    expect(b.inputIds).toEqual([
      [1, 10, 20, 9, 9, 9, 9, 9],
      [1, 10, 30, 9, 9, 9, 9, 9],
    ]);
  });
});

describe('truncation (TRL rules)', () => {
  it('keep_start cuts each row to its first maxLength tokens', () => {
    const b = collatePreference([pair(1, [1, 10, 11], [20, 21, 22, 2], [30, 2], { maxLength: 5, truncationMode: 'keep_start' })], { padId: 0 });
    expect(b.inputIds).toEqual([
      [1, 10, 11, 20, 21],
      [1, 10, 11, 30, 2],
    ]);
    expect(b.labels).toEqual([
      [X, X, X, 20, 21],
      [X, X, X, 30, 2],
    ]);
  });

  it('keep_end cuts each row to its own last maxLength tokens, so the two rows keep different prompt tails', () => {
    const b = collatePreference([pair(1, [1, 10, 11, 12], [20, 21, 22, 2], [30, 2], { maxLength: 5, truncationMode: 'keep_end' })], { padId: 0 });
    expect(b.inputIds).toEqual([
      [12, 20, 21, 22, 2],
      [10, 11, 12, 30, 2],
    ]);
    expect(b.labels).toEqual([
      [X, 20, 21, 22, 2],
      [X, X, X, 30, 2],
    ]);
  });

  it('maxPromptLength cuts the prompt only when prompt + the longer completion exceeds maxLength', () => {
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // 10 + 5 > 12: the prompt keeps its first 4 tokens; 4 + 5 fits, so the completions stay whole.
    expect(limitPrompt(prompt, [[21, 22, 23], [31, 32, 33, 34, 35]], { maxLength: 12, maxPromptLength: 4 })).toEqual({
      prompt: [1, 2, 3, 4],
      completions: [[21, 22, 23], [31, 32, 33, 34, 35]],
      cut: true,
    });
    // keep_end keeps the prompt's last 4 tokens.
    expect(limitPrompt(prompt, [[21], [31, 32, 33, 34, 35]], { maxLength: 12, maxPromptLength: 4, truncationMode: 'keep_end' }).prompt).toEqual([7, 8, 9, 10]);
    // Still too long: completions are cut to maxLength - maxPromptLength = 8.
    const long = Array.from({ length: 20 }, (_, i) => 100 + i);
    const r = limitPrompt(prompt, [long, [31]], { maxLength: 12, maxPromptLength: 4 });
    expect(r.prompt).toEqual([1, 2, 3, 4]);
    expect(r.completions).toEqual([long.slice(0, 8), [31]]);
    // Fits: nothing changes, even though the prompt is longer than maxPromptLength.
    expect(limitPrompt(prompt, [[21], [31]], { maxLength: 12, maxPromptLength: 4 })).toEqual({ prompt, completions: [[21], [31]], cut: false });
  });

  it('rows of an untruncated example are the prompt and completion as they are', () => {
    expect(completionRow([1, 2], [3, 4], undefined)).toEqual({ inputIds: [1, 2, 3, 4], labels: [X, X, 3, 4] });
    expect(completionRow([1, 2], [3, 4], 4, 'keep_end')).toEqual({ inputIds: [1, 2, 3, 4], labels: [X, X, 3, 4] });
  });

  it('refuses limits that make no sense', () => {
    expect(() => checkTruncationOptions({ maxPromptLength: 4 }, 'pairs')).toThrow(/maxPromptLength needs maxLength/);
    expect(() => checkTruncationOptions({ maxLength: 4, maxPromptLength: 4 }, 'pairs')).toThrow(/must be smaller than maxLength/);
    expect(() => checkTruncationOptions({ maxLength: 0 }, 'pairs')).toThrow(/maxLength must be a positive integer/);
    expect(() => checkTruncationOptions({ maxLength: 8, truncationMode: 'keep_end' }, 'kto')).toThrow(/KTO truncates keep_start only/);
    expect(() => checkTruncationOptions({ maxLength: 8, truncationMode: 'middle' as never }, 'pairs')).toThrow(/truncationMode/);
  });
});

describe('KTO batches', () => {
  it('rows are the examples; KL row i is prompt i with the completion of example i - 1 (mod n)', () => {
    const b = collateKto([kto(1, [1, 10], [20, 2], true), kto(2, [1, 11, 12], [21, 22, 23, 2], false), kto(3, [1, 13], [24, 2], true)], { padId: 0 });
    expect(b.desirable).toEqual([true, false, true]);
    expect(b.inputIds).toEqual([
      [1, 10, 20, 2, 0, 0, 0],
      [1, 11, 12, 21, 22, 23, 2],
      [1, 13, 24, 2, 0, 0, 0],
    ]);
    expect(b.labels[1]).toEqual([X, X, X, 21, 22, 23, 2]);
    // TRL: (x1, y3), (x2, y1), (x3, y2).
    expect(b.kl.inputIds).toEqual([
      [1, 10, 24, 2, 0, 0],
      [1, 11, 12, 20, 2, 0],
      [1, 13, 21, 22, 23, 2],
    ]);
    expect(b.kl.labels).toEqual([
      [X, X, 24, 2, X, X],
      [X, X, X, 20, 2, X],
      [X, X, 21, 22, 23, 2],
    ]);
    expect(b.kl.examples).toBe(3);
  });

  it('cuts KL rows to maxLength after their own prompt, keeping as much of the borrowed completion as fits', () => {
    const b = collateKto([kto(1, [1, 10, 11, 12], [20, 2], true, 5), kto(2, [1], [21, 22, 23, 24, 25, 2], false, 5)], { padId: 0 });
    expect(b.inputIds).toEqual([
      [1, 10, 11, 12, 20],
      [1, 21, 22, 23, 24],
    ]);
    expect(b.kl.inputIds).toEqual([
      [1, 10, 11, 12, 21],
      [1, 20, 2, 0, 0],
    ]);
  });

  it('a batch of one pairs the example with itself, as TRL rotation does', () => {
    const b = collateKto([kto(1, [1, 10], [20, 2], true)], { padId: 0 });
    expect(b.kl.inputIds).toEqual(b.inputIds);
  });
});

describe('resumable iterator over pairs', () => {
  const examples = Array.from({ length: 7 }, (_, k) => pair(k + 1, [1, 10 + k], [100 + k, 2], [200 + k, 2]));
  const options = { batchSize: 3, seed: 5, epochs: 2, collate: (g: PreferenceExample[]) => collatePreference(g, { padId: 0 }) };
  const key = (b: EpochBatch<PreferenceBatch>) => `${b.epoch}:${b.inputIds.map((r) => r[1]).join(',')}`;

  it('visits every pair once per epoch, shuffled by the seed, never across epochs', () => {
    const batches = [...new BatchIterator(examples, options)];
    expect(batches.map((b) => b.pairs)).toEqual([3, 3, 1, 3, 3, 1]);
    for (const epoch of [0, 1]) {
      const seen = batches.filter((b) => b.epoch === epoch).flatMap((b) => b.inputIds.slice(0, b.pairs).map((r) => r[1]));
      expect([...seen].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16]);
    }
    // The rejected half pairs row for row with the chosen half.
    for (const b of batches) for (let i = 0; i < b.pairs; i++) expect(b.inputIds[b.pairs + i][1]).toBe(b.inputIds[i][1]);
    expect(batches.map(key)).not.toEqual([...new BatchIterator(examples, { ...options, seed: 6 })].map(key));
  });

  it('resumes from a saved state with exactly the remaining batches', () => {
    const all = [...new BatchIterator(examples, options)].map(key);
    for (const k of [1, 3, 4]) {
      const it = new BatchIterator(examples, options);
      for (let i = 0; i < k; i++) it.next();
      const state = JSON.parse(JSON.stringify(it.state()));
      expect([...new BatchIterator(examples, options, state)].map(key)).toEqual(all.slice(k));
    }
  });
});
