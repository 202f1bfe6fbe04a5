// What an edit did: the refusal rate of greedy completions of harmful prompts (substring markers over
// the whole completion), and the first-token KL on harmless prompts against the unedited model.
import { generate } from '../../generate/generate.ts';
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { lastLogits } from '../forward.ts';
import { firstTokenKl, refusalRate } from './refusal.ts';

export interface EvalSetup {
  harmful: readonly number[][];
  harmless: readonly number[][];
  decode: (ids: number[]) => string;
  maxNewTokens: number;
  stopTokens: number[];
  markers: readonly string[];
  batchSize?: number;
}

export async function completions(model: LlamaForCausalLM, prompts: readonly number[][], s: EvalSetup): Promise<string[]> {
  const out: string[] = [];
  const bs = s.batchSize ?? 32;
  for (let i = 0; i < prompts.length; i += bs) {
    const gen = await generate(model, prompts.slice(i, i + bs) as number[][], { maxNewTokens: s.maxNewTokens, stopTokens: s.stopTokens });
    out.push(...gen.map((ids) => s.decode(ids.filter((t) => !s.stopTokens.includes(t)))));
  }
  return out;
}

export interface EditScore { refusalRate: number; kl: number; texts: string[] }

/** Scores `model` (edited) against the base model's harmless next-token distributions `baseHarmless`. */
export async function scoreEdit(model: LlamaForCausalLM, baseHarmless: readonly Float64Array[], s: EvalSetup): Promise<EditScore> {
  const texts = await completions(model, s.harmful, s);
  const kl = firstTokenKl(baseHarmless, await lastLogits(model, s.harmless, { batchSize: s.batchSize }));
  return { refusalRate: refusalRate(texts, s.markers), kl, texts };
}
