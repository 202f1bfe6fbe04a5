// The demo's world: addition problems it writes itself, a character vocabulary, and exact-match
// accuracy by greedy generation. Nothing is downloaded.
import { generate } from '../generate/generate.ts';
import type { TokenizedExample } from '../data/labels.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { Generator } from '../../engine/random.ts';

export const BOS = 0, EOS = 1;
const CHARS = '0123456789+=?:QA ';

export function encode(s: string): number[] {
  return [...s].map((c) => {
    const i = CHARS.indexOf(c);
    if (i < 0) throw new Error(`demo vocabulary has no "${c}"`);
    return i + 2;
  });
}

export function decode(ids: number[]): string {
  return ids.filter((i) => i >= 2).map((i) => CHARS[i - 2]).join('');
}

export const VOCAB_SIZE = CHARS.length + 2;

export interface Problem { a: number; b: number }

/** Every a+b with a, b < max, split into train and held-out by a seeded shuffle. */
export function problems(max: number, heldOut: number, seed: number): { train: Problem[]; test: Problem[] } {
  const all: Problem[] = [];
  for (let a = 0; a < max; a++) for (let b = 0; b < max; b++) all.push({ a, b });
  const g = new Generator(seed);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(g.uniform() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return { test: all.slice(0, heldOut), train: all.slice(heldOut) };
}

/** The two formats: the plain equation (stage 1) and the question/answer the LoRA stage teaches. */
export const formats = {
  equation: (p: Problem) => ({ prompt: `${p.a}+${p.b}=`, answer: String(p.a + p.b) }),
  // The answer restates the sum, so LoRA only has to learn to copy the operands into place and
  // the arithmetic learned in stage 1 finishes it.
  qa: (p: Problem) => ({ prompt: `Q: ${p.a}+${p.b}? A: `, answer: `${p.a}+${p.b}=${p.a + p.b}` }),
};
export type Format = keyof typeof formats;

/** BOS prompt answer EOS, loss on the answer and EOS only. */
export function example(p: Problem, f: Format): TokenizedExample {
  const { prompt, answer } = formats[f](p);
  const pr = [BOS, ...encode(prompt)], an = [...encode(answer), EOS];
  return { inputIds: [...pr, ...an], labels: [...pr.map(() => -100), ...an] };
}

/** The model's greedy answer to each problem (decoded, without EOS) and whether it is exactly right. */
export async function answers(model: LlamaForCausalLM, ps: Problem[], f: Format, batch = 64): Promise<{ text: string; right: boolean }[]> {
  const out: { text: string; right: boolean }[] = [];
  for (let i = 0; i < ps.length; i += batch) {
    const chunk = ps.slice(i, i + batch);
    const prompts = chunk.map((p) => [BOS, ...encode(formats[f](p).prompt)]);
    const outs = await generate(model, prompts, { maxNewTokens: 12, stopTokens: [EOS] });
    outs.forEach((o, j) => {
      const text = decode(o);
      out.push({ text, right: text === formats[f](chunk[j]).answer && o[o.length - 1] === EOS });
    });
  }
  return out;
}

/** Share of problems whose greedy completion is exactly the right answer. */
export async function accuracy(model: LlamaForCausalLM, ps: Problem[], f: Format, batch = 64): Promise<number> {
  const a = await answers(model, ps, f, batch);
  return a.filter((x) => x.right).length / Math.max(ps.length, 1);
}

/**
 * A preference pair for the Q/A format: the right answer over a wrong one, as token ids (prompt
 * with BOS; completions end in EOS). `wrong` is the model's own mistake when it made one (what
 * DPO should unlearn), else a near miss: the sum off by one or ten.
 */
export function preferencePair(p: Problem, wrong: string | null, g: Generator): { prompt: number[]; chosen: number[]; rejected: number[] } {
  const { prompt, answer } = formats.qa(p);
  let bad = wrong;
  if (bad === null || bad === answer) {
    const c = p.a + p.b;
    const deltas = [1, -1, 10, -10].filter((d) => c + d >= 0);
    bad = answer.replace(/\d+$/, String(c + deltas[Math.floor(g.uniform() * deltas.length)]));
  }
  return { prompt: [BOS, ...encode(prompt)], chosen: [...encode(answer), EOS], rejected: [...encode(bad), EOS] };
}
