// Choosing the refusal direction as Arditi et al. (pipeline/submodules/select_direction.py): for each
// candidate r(l, i) from a block below (1 − 0.2)·L, ablate it at every block and score refusal on
// harmful validation prompts; add it at block l on harmless prompts and score refusal there (it must
// induce refusal, score > 0); ablate it on harmless prompts and measure the first-token KL (≤ 0.1).
// The candidate with the lowest ablated refusal score among those kept wins (--layer: among that block's, filters noted only).
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { ablationHook, additionHook, withHooks, type EditHook } from '../hooks.ts';
import { lastLogits } from '../forward.ts';
import type { Candidates } from './candidates.ts';
import { firstTokenKl, refusalScore } from './refusal.ts';

export interface SelectionOptions {
  harmfulVal: readonly number[][];
  harmlessVal: readonly number[][];
  refusalTokens: readonly number[];
  /** Default 0.1. */
  klThreshold?: number;
  /** Candidates from blocks ≥ (1 − this)·L are skipped; default 0.2. */
  pruneLayerFraction?: number;
  /** Minimum refusal score the direction must induce on harmless prompts (default 0; null: no check). */
  induceRefusalThreshold?: number | null;
  /** Only this block / offset index (the --layer / --position overrides). */
  layer?: number;
  offsetIndex?: number;
  batchSize?: number;
  log?: (s: string) => void;
}

export interface CandidateScore {
  layer: number;
  offset: number;
  /** Refusal score on harmful prompts with the direction ablated (lower: refuses less). */
  refusalScore: number;
  /** Refusal score on harmless prompts with the direction added at its block. */
  inducedScore: number | null;
  /** First-token KL on harmless prompts with the direction ablated. */
  kl: number;
  /** Why it was not eligible, if it was not. */
  filtered: string | null;
}

export interface Selection {
  best: CandidateScore;
  direction: Float64Array;
  scores: CandidateScore[];
  baseline: { harmfulRefusalScore: number; harmlessRefusalScore: number };
}

async function scored<T>(model: LlamaForCausalLM, h: EditHook, fn: () => Promise<T>): Promise<T> {
  try { return await withHooks(model, [h], fn); } finally { h.dispose(); }
}

export async function selectDirection(model: LlamaForCausalLM, c: Candidates, o: SelectionOptions): Promise<Selection> {
  const L = model.config.numLayers;
  const bs = o.batchSize;
  const limit = Math.floor(L * (1 - (o.pruneLayerFraction ?? 0.2)));
  const klMax = o.klThreshold ?? 0.1;
  const induceMin = o.induceRefusalThreshold === undefined ? 0 : o.induceRefusalThreshold;
  if (o.layer !== undefined && (!Number.isInteger(o.layer) || o.layer < 0 || o.layer >= L)) throw new Error(`abliteration: --layer ${o.layer} is outside the model's blocks 0..${L - 1}`);
  if (o.offsetIndex !== undefined && !(o.offsetIndex >= 0 && o.offsetIndex < c.offsets.length)) throw new Error(`abliteration: --position ${o.offsetIndex} is outside the ${c.offsets.length} candidate positions`);
  const harmfulBase = await lastLogits(model, o.harmfulVal, { batchSize: bs });
  const harmlessBase = await lastLogits(model, o.harmlessVal, { batchSize: bs });
  const baseline = { harmfulRefusalScore: refusalScore(harmfulBase, o.refusalTokens), harmlessRefusalScore: refusalScore(harmlessBase, o.refusalTokens) };
  const forced = o.layer !== undefined;
  const scores: CandidateScore[] = [];
  for (let l = 0; l < L; l++) {
    if (o.layer !== undefined ? l !== o.layer : l >= limit) continue;
    for (let i = 0; i < c.offsets.length; i++) {
      if (o.offsetIndex !== undefined && i !== o.offsetIndex) continue;
      const r = Float32Array.from(c.directions[l][i]);
      if (!(Math.hypot(...r) > 0)) {
        // e.g. block 0's input (the embedding) at template tokens shared by both kinds of prompt.
        scores.push({ layer: l, offset: c.offsets[i], refusalScore: NaN, inducedScore: null, kl: NaN, filtered: 'the mean difference is zero' });
        continue;
      }
      const ablatedHarmful = await scored(model, ablationHook(model, r), () => lastLogits(model, o.harmfulVal, { batchSize: bs }));
      const ablatedHarmless = await scored(model, ablationHook(model, r), () => lastLogits(model, o.harmlessVal, { batchSize: bs }));
      const inducedScore = induceMin === null ? null : refusalScore(
        await scored(model, additionHook(model, new Map([[l, r]]), { point: 'block_input' }), () => lastLogits(model, o.harmlessVal, { batchSize: bs })),
        o.refusalTokens);
      const s: CandidateScore = {
        layer: l, offset: c.offsets[i], refusalScore: refusalScore(ablatedHarmful, o.refusalTokens), inducedScore,
        kl: firstTokenKl(harmlessBase, ablatedHarmless), filtered: null,
      };
      if (!Number.isFinite(s.refusalScore)) s.filtered = 'refusal score is not finite';
      else if (s.kl > klMax) s.filtered = `KL ${s.kl.toFixed(3)} > ${klMax}`;
      else if (inducedScore !== null && induceMin !== null && inducedScore < induceMin) s.filtered = `induced refusal score ${inducedScore.toFixed(2)} < ${induceMin}`;
      scores.push(s);
      o.log?.(`  block ${l} position ${c.offsets[i]}: ablated refusal score ${s.refusalScore.toFixed(3)}, KL ${s.kl.toFixed(4)}${inducedScore === null ? '' : `, induced ${inducedScore.toFixed(2)}`}${s.filtered ? ` (${forced ? 'would be skipped' : 'skipped'}: ${s.filtered})` : ''}`);
    }
  }
  // A forced block (--layer) is used even when a filter would have skipped it; the scores say why.
  const kept = scores.filter((s) => (forced && Number.isFinite(s.refusalScore)) || !s.filtered).sort((a, b) => a.refusalScore - b.refusalScore);
  if (!kept.length) {
    throw new Error(`abliteration: every candidate direction was filtered out (${scores.length} tried; e.g. block ${scores[0]?.layer}: ${scores[0]?.filtered}); pass --layer/--position to force one, or raise the KL threshold`);
  }
  const best = kept[0];
  return { best, direction: c.directions[best.layer][c.offsets.indexOf(best.offset)], scores, baseline };
}
