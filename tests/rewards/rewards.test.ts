// Reward functions: the accuracy verifier on every GSM8K test row and on hand-written completions,
// the format verifiers, TRL's soft overlong punishment, and module loading with its error messages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { accuracy, completionAnswer, format, goldAnswer, loadRewardFunctions, scoreCompletions, softOverlong, thinkFormat } from '../../llm/rewards/index.ts';
import type { RewardInputs } from '../../llm/rewards/index.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const inputs = (completions: string[], extra: Record<string, unknown> = {}): RewardInputs => ({
  prompts: completions.map(() => 'q'), completions, completionIds: completions.map((c) => [...c].map((ch) => ch.charCodeAt(0))), step: 3, ...extra,
});

const haveGsm8k = haveAssets('data/gsm8k/test.jsonl');
describe(`accuracy verifier${skipNote(haveGsm8k)}`, () => {
  it.skipIf(!haveGsm8k)('extracts a numeric gold answer from every row of the GSM8K test file', () => {
    const rows = readFileSync(asset('data/gsm8k/test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBe(1319);
    for (const [i, row] of rows.entries()) {
      const gold = goldAnswer(row);
      const after = row.answer.split('####').pop().trim().replace(/,/g, '');
      expect(gold, `row ${i + 1}`).toBe(after);
      expect(Number.isFinite(Number(gold)), `row ${i + 1}: ${gold}`).toBe(true);
      // The worked answer itself, given as a completion, is right.
      expect(accuracy(inputs([row.answer], { answer: [row.answer] })), `row ${i + 1}`).toEqual([1]);
    }
  });

  it('scores hand-written completions: right, wrong, boxed, commas, <answer> tags, no gold', async () => {
    const gold = 'Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 1,072';
    const c = [
      'She sold 1072 clips.',                                   // last number, right
      'She sold 1070 clips.',                                   // wrong
      'So the total is \\boxed{1,072} clips, not 3.',           // boxed wins over the last number
      'First 1,000 then 72 more: 1,072',                        // thousands separators
      '<think>48 + 24 = 72, and 1000 + 72</think><answer> 1072 </answer> (check: 5)', // tags win
      '<answer>1071</answer> though 1072 looks better',         // the tag decides: wrong
      'The answer is 1072.00',                                  // equal as numbers
      'no numbers here',
    ];
    expect(await accuracy(inputs(c, { answer: c.map(() => gold) }))).toEqual([1, 0, 1, 1, 1, 0, 1, 0]);
    expect(await accuracy(inputs(['\\boxed{\\frac{1}{3}}', '\\boxed{\\frac{1}{2}}'], { solution: ['\\frac{1}{3}', '\\frac{1}{3}'] }))).toEqual([1, 0]);
    expect(await accuracy(inputs(['x = 7', '<answer> yes </answer>', 'yes'], { ground_truth: ['7', ' yes ', 'yes'] }))).toEqual([1, 1, 0]);
    expect(await accuracy(inputs(['7'], {}))).toEqual([null]);
    expect(completionAnswer('\\boxed{a{b}c} and 9')).toBe('a{b}c');
    expect(completionAnswer('costs -3.5 or -.25')).toBe('-.25');
  });
});

describe('format verifiers and soft overlong punishment', () => {
  it('format: <think>…</think> then <answer>…</answer>; think_format as TRL', async () => {
    const c = ['<think>\nreason\n</think>\n<answer>\n4\n</answer>', '<think>r</think> 4', '<answer>4</answer><think>r</think>', 'x<think>r</think><answer>4</answer>'];
    expect(await format(inputs(c))).toEqual([1, 0, 0, 0]);
    // TRL's docstring example, plus a nested second <think> (the lookahead refuses it).
    const t = ['<think>\nThis is my reasoning.\n</think>\nThis is my answer.', '<think>\nThis is my reasoning.\nThis is my answer.', '<think>a<think>b</think>'];
    expect(await thinkFormat(inputs(t))).toEqual([1, 0, 0]);
  });
  it('soft_overlong: 0 up to L_max − L_cache, then linear to −1 at L_max, −1 beyond', async () => {
    const f = softOverlong(10, 4);
    const r = await f({ ...inputs([]), completionIds: [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7], new Array(10).fill(1), new Array(11).fill(1)] });
    expect(r).toEqual([0, -0.25, -1, -1]);
  });
});

describe('reward modules', () => {
  const fx = (f: string) => join(__dirname, 'fixtures', f);
  it('loads built-ins, .mjs and .ts modules; names them; scores [N][K] with nulls', async () => {
    const rs = await loadRewardFunctions(['accuracy', fx('count-a.mjs'), fx('async-column.ts')], { maxCompletionLength: 8 });
    expect(rs.map((r) => r.name)).toEqual(['accuracy', 'count-a', 'async-column']);
    const s = await scoreCompletions(rs, inputs(['banana 3', 'apple 4'], { answer: ['3', '3'], target: ['nan', undefined] }));
    expect(s).toEqual([[1, 3, 1], [0, 1, null]]);
  });
  it('errors name the module and the step', async () => {
    const o = { maxCompletionLength: 8 };
    await expect(loadRewardFunctions([fx('missing.mjs')], o)).rejects.toThrow(/reward module .*missing\.mjs: no such file/);
    await expect(loadRewardFunctions([fx('no-function.mjs')], o)).rejects.toThrow(/no-function\.mjs: exports no reward function/);
    await expect(loadRewardFunctions(['accuracy', 'acuracy'], o)).rejects.toThrow(/unknown reward "acuracy" \(built-ins: accuracy, format, think_format, soft_overlong/);
    const bad = await loadRewardFunctions([fx('wrong-length.mjs'), fx('throws.mjs')], o);
    await expect(scoreCompletions([bad[0]], inputs(['a', 'b']))).rejects.toThrow(/reward "wrong-length" at step 3: expected an array of 2 scores \(one per completion\), got 1 scores/);
    await expect(scoreCompletions([bad[1]], inputs(['a']))).rejects.toThrow(/reward "throws" threw at step 3: no verifier today/);
  });
});
