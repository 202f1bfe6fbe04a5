// The demo's abliteration (issue 13): Arditi et al.'s difference-of-means direction, removed from the
// weights that write it, with heretic's per-block and per-component weights chosen by a small search
// on validation problems. What differs from the block-input recipe, and why (bench/NOTES.md, "Stage 5:
// the refusal direction at the last block's attention output"):
//  - where the means are taken: the last block's attention output at the last prompt token. In this
//    2-block model the block inputs carry no single refusal direction (ablating any of them at run
//    time leaves ≥ 96% of the refusals), while ablating this one at every attention output removes
//    them and keeps the first answer token: the last block's attention reads the doubled "?" and
//    writes the refusal there.
//  - which writers lose it: o_proj only (heretic's "attn.o_proj"; the MLPs' down_proj keep it).
//  - the direction is conditioned on the plain answers' attention activity M:
//    r = (M + λ·tr(M)/H·I)⁻¹ d. The raw d is also what the attention writes while the answer's
//    digits are produced (a projection along it costs 15 of 151 answers); λ trades that off.
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { captureResidual } from '../editing/capture.ts';
import { lastLogits } from '../editing/forward.ts';
import { ridgeDirection, rowMean, secondMoment } from '../editing/linalg.ts';
import { firstTokenKl, refusalScore } from '../editing/abliteration/refusal.ts';
import { ablationHook, withHooks } from '../editing/hooks.ts';
import { orthogonalizeWeights, shareWeights, type LayerKernel } from '../editing/abliteration/weights.ts';

export interface RefusalEditSettings {
  /** Candidate positions (offsets from the prompt end) of the mean difference. */
  offsets: number[];
  /** Ridge strengths tried (relative to the mean eigenvalue of M). */
  lambdas: number[];
  /** o_proj weights tried, [first block, last block] (heretic kernel: max at the last block, linear to min at the first). */
  weights: [number, number][];
}

export interface RefusalEditInputs {
  /** Trigger and plain prompts for the means (token ids, same problems). */
  refusing: number[][]; plain: number[][];
  /** Plain prompts with their answers: the activity the edit should leave alone. */
  answered: number[][];
  /** Positions of each answered sequence that are answer tokens (negative offsets, all inside the answer). */
  answerOffsets: number[];
  /** Validation refusing prompts (the position's selection) and the refusal's first token(s). */
  refusingVal: number[][]; refusalTokens: number[];
}

export interface RefusalEditCandidate { offset: number; lambda: number; weights: [number, number]; direction: Float64Array; kernel: LayerKernel }

/** Mean(refusing) − mean(plain) at the last block's attention output, at each offset from the prompt end [hidden]. */
export async function attentionRefusalDirections(model: LlamaForCausalLM, refusing: number[][], plain: number[][], offsets: number[]): Promise<Float64Array[]> {
  const { numLayers: L, hiddenSize: H } = model.config;
  const spec = { layers: [L - 1], point: 'attn_output' as const, offsets, batchSize: 128 };
  const a = await captureResidual(model, refusing, spec), b = await captureResidual(model, plain, spec);
  return offsets.map((_, i) => {
    const ma = rowMean(a[0][i], refusing.length, H), mb = rowMean(b[0][i], plain.length, H);
    return ma.map((v, j) => v - mb[j]);
  });
}

/**
 * Arditi's selection, at the attention outputs: each candidate ablated at run time from every
 * attention output, scored by the refusal score (log-odds of the refusal tokens first) on
 * validation refusing prompts; the lowest wins.
 */
export async function selectAttentionDirection(
  model: LlamaForCausalLM, candidates: Float64Array[], refusing: number[][], refusalTokens: number[],
): Promise<{ index: number; scores: number[] }> {
  const scores: number[] = [];
  for (const d of candidates) {
    const h = ablationHook(model, Float32Array.from(d), { points: ['attn_output'] });
    try {
      scores.push(refusalScore(await withHooks(model, [h], () => lastLogits(model, refusing, { batchSize: 100 })), refusalTokens));
    } finally { h.dispose(); }
  }
  return { index: scores.indexOf(Math.min(...scores)), scores };
}

/** Second moment of every block's attention output at the answer tokens of plain Q/A sequences [H × H]. */
export async function answerActivity(model: LlamaForCausalLM, answered: number[][], offsets: number[]): Promise<Float64Array> {
  const { numLayers: L, hiddenSize: H } = model.config;
  const acts = await captureResidual(model, answered, { layers: Array.from({ length: L }, (_, l) => l), point: 'attn_output', offsets, batchSize: 128 });
  const rows = acts.flat();
  const X = new Float64Array(rows.length * answered.length * H);
  rows.forEach((r, i) => X.set(r, i * answered.length * H));
  return secondMoment(X, rows.length * answered.length, H);
}

/** The kernel putting weight `last` on the last block, falling linearly to `first` at block 0. */
export function blockKernel(model: LlamaForCausalLM, [first, last]: [number, number]): LayerKernel {
  const L = model.config.numLayers;
  return { maxWeight: last, maxWeightPosition: L - 1, minWeight: first, minWeightDistance: Math.max(1, L - 1) };
}

/** The selected position's direction under every (λ, weights) setting. */
export async function refusalEditCandidates(
  model: LlamaForCausalLM, x: RefusalEditInputs, s: RefusalEditSettings,
): Promise<{ candidates: RefusalEditCandidate[]; selection: { offset: number; scores: number[] } }> {
  const ds = await attentionRefusalDirections(model, x.refusing, x.plain, s.offsets);
  const { index, scores } = await selectAttentionDirection(model, ds, x.refusingVal, x.refusalTokens);
  const M = await answerActivity(model, x.answered, x.answerOffsets);
  const offset = s.offsets[index];
  const candidates = s.lambdas.flatMap((lambda) => {
    const direction = ridgeDirection(ds[index], M, lambda);
    return s.weights.map((weights) => ({ offset, lambda, weights, direction, kernel: blockKernel(model, weights) }));
  });
  return { candidates, selection: { offset, scores } };
}

/** The edit: r̂ removed from every o_proj with the candidate's block weights; a new model on shared storage. */
export function applyRefusalEdit(model: LlamaForCausalLM, c: RefusalEditCandidate): LlamaForCausalLM {
  return orthogonalizeWeights(shareWeights(model), c.direction, { embedding: false, components: { attn: c.kernel } });
}

/** First-token KL(base ‖ edited) on plain prompts. */
export async function plainKl(base: LlamaForCausalLM, edited: LlamaForCausalLM, plain: number[][]): Promise<number> {
  return firstTokenKl(await lastLogits(base, plain, { batchSize: 100 }), await lastLogits(edited, plain, { batchSize: 100 }));
}
