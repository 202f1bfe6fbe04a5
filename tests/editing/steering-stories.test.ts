// Steering a real model: on stories260K, a pca_diff vector from happy/sad story openings (same
// ending, only the feeling differs) shifts greedy continuations from happy words towards sad ones as
// the strength goes negative, monotonically; strength 0 is the unsteered model exactly; the next-token
// log-odds of " happy" over " sad" rise with the strength; steering only after the prompt leaves the
// prompt's own forward (and so the first new token's logits) untouched.
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { lastLogits } from '../../llm/editing/forward.ts';
import { withHooks } from '../../llm/editing/hooks.ts';
import { controlHook } from '../../llm/editing/steering/apply.ts';
import { trainSteeringVector } from '../../llm/editing/steering/train.ts';
import { generate } from '../../llm/generate/generate.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';

const MODEL = 'models/stories260K-hf';
const ok = haveAssets(MODEL);

const HAPPY = ['happy', 'glad', 'smile', 'smiled', 'smiling', 'laugh', 'laughed', 'laughing', 'fun', 'love', 'loved', 'joy', 'excited', 'proud', 'nice', 'good', 'great', 'best', 'friends', 'hug', 'kind', 'beautiful', 'play', 'played'];
const SAD = ['sad', 'cry', 'cried', 'crying', 'tears', 'hurt', 'scared', 'afraid', 'worried', 'angry', 'mad', 'upset', 'sorry', 'lonely', 'alone', 'lost', 'bad', 'mean', 'frown', 'frowned', 'broken', 'crazy'];

/** Happy minus sad words over all continuations. */
function mood(texts: string[]): number {
  const words = texts.join(' ').toLowerCase().match(/[a-z]+/g) ?? [];
  return words.filter((w) => HAPPY.includes(w)).length - words.filter((w) => SAD.includes(w)).length;
}

const NAMES = ['Tom', 'Lily', 'Ben', 'Sue', 'Max', 'Mia', 'Tim', 'Anna', 'Sam', 'Lucy', 'Jack', 'Emma'];
const FEELINGS: [string, string][] = [['happy', 'sad'], ['glad', 'upset'], ['happy', 'sad'], ['joyful', 'scared'], ['happy', 'sad'], ['glad', 'angry']];
const PROMPTS = ['Lily was very', 'Tom felt', 'The little girl was', 'Ben looked at the toy and felt', 'Once upon a time', 'The dog was',
  'Sue and her mom were', 'Max was', 'The bird was', 'Mia said she was', 'Sam cried and', 'Lucy smiled and'];

describe.skipIf(!ok)(`steering stories260K${skipNote(ok)}`, () => {
  it('a happy/sad vector moves the happy-minus-sad word count with the strength; 0 changes nothing', async () => {
    const backend = createCpuBackend();
    const { model } = await loadLlama(asset(MODEL), { backend });
    const tok = await loadTokenizer(asset(MODEL));
    const pairs = NAMES.map((n, i) => {
      const [h, s] = FEELINGS[i % FEELINGS.length];
      const end = i % 2 ? 'She' : 'He';
      return { positive: tok.encode(`${n} was very ${h}. ${end}`), negative: tok.encode(`${n} was very ${s}. ${end}`) };
    });
    const v = await trainSteeringVector(model, pairs, { method: 'pca_diff' });
    const prompts = PROMPTS.map((p) => tok.encode(p));
    const run = async (strength: number | null, afterPrompt = false) => {
      const h = strength === null ? null : controlHook(model, [{ directions: v, strength }], { layers: [2, 3], afterPrompt: afterPrompt ? prompts.map((p) => p.length) : undefined });
      try {
        return await withHooks(model, h ? [h] : [], () => generate(model, prompts, { maxNewTokens: 24 }));
      } finally { h?.dispose(); }
    };
    const base = await run(null);
    expect(await run(0)).toEqual(base);
    const strengths = [-1, -0.5, 0, 1];
    const moods: number[] = [];
    for (const s of strengths) moods.push(mood((s === 0 ? base : await run(s)).map((o) => tok.decode(o))));
    console.log('happy − sad words by strength', Object.fromEntries(strengths.map((s, i) => [s, moods[i]])));
    for (let i = 1; i < moods.length; i++) expect(moods[i]).toBeGreaterThanOrEqual(moods[i - 1]);
    expect(moods[0]).toBeLessThan(moods[2] - 3);

    // Next-token logit of "▁happy" minus "▁sa(d)", averaged over the prompts, as a smooth read-out.
    const prefix = tok.encode('Lily was very');
    const happy = tok.encode('Lily was very happy')[prefix.length], sad = tok.encode('Lily was very sad')[prefix.length];
    expect(happy).not.toBe(sad);
    const odds: number[] = [];
    for (const s of [-1, -0.5, 0, 0.5, 1]) {
      const h = controlHook(model, [{ directions: v, strength: s }], { layers: [2, 3] });
      const rows = await withHooks(model, [h], () => lastLogits(model, prompts));
      h.dispose();
      odds.push(rows.reduce((acc, r) => acc + r[happy] - r[sad], 0) / rows.length);
    }
    console.log('mean logit(▁happy) − logit(▁sa) by strength', odds.map((x) => x.toFixed(3)));
    for (let i = 1; i < odds.length; i++) expect(odds[i]).toBeGreaterThan(odds[i - 1]);

    // After the prompt only: the first new token comes from the unsteered prompt pass (CAA's rule).
    const after = await run(-1, true);
    after.forEach((o, i) => expect(o[0]).toBe(base[i][0]));
    expect(after).not.toEqual(base);
    model.dispose();
  });
});
