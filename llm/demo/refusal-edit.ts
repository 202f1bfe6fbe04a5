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
import { firstTokenKl } from '../editing/abliteration/refusal.ts';
import { orthogonalizeWeights, shareWeights, type LayerKernel } from '../editing/abliteration/weights.ts';

export interface RefusalEditSettings {
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
}

export interface RefusalEditCandidate { lambda: number; weights: [number, number]; direction: Float64Array; kernel: LayerKernel }

/** Mean(refusing) − mean(plain) at the last block's attention output, last prompt token [hidden]. */
export async function attentionRefusalDirection(model: LlamaForCausalLM, refusing: number[][], plain: number[][]): Promise<Float64Array> {
  const { numLayers: L, hiddenSize: H } = model.config;
  const spec = { layers: [L - 1], point: 'attn_output' as const, offsets: [-1], batchSize: 128 };
  const a = rowMean((await captureResidual(model, refusing, spec))[0][0], refusing.length, H);
  const b = rowMean((await captureResidual(model, plain, spec))[0][0], plain.length, H);
  return a.map((v, j) => v - b[j]);
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

/** Every (λ, weights) setting with its direction. */
export async function refusalEditCandidates(model: LlamaForCausalLM, x: RefusalEditInputs, s: RefusalEditSettings): Promise<RefusalEditCandidate[]> {
  const d = await attentionRefusalDirection(model, x.refusing, x.plain);
  const M = await answerActivity(model, x.answered, x.answerOffsets);
  return s.lambdas.flatMap((lambda) => {
    const direction = ridgeDirection(d, M, lambda);
    return s.weights.map((weights) => ({ lambda, weights, direction, kernel: blockKernel(model, weights) }));
  });
}

/** The edit: r̂ removed from every o_proj with the candidate's block weights; a new model on shared storage. */
export function applyRefusalEdit(model: LlamaForCausalLM, c: RefusalEditCandidate): LlamaForCausalLM {
  return orthogonalizeWeights(shareWeights(model), c.direction, { embedding: false, components: { attn: c.kernel } });
}

/** First-token KL(base ‖ edited) on plain prompts. */
export async function plainKl(base: LlamaForCausalLM, edited: LlamaForCausalLM, plain: number[][]): Promise<number> {
  return firstTokenKl(await lastLogits(base, plain, { batchSize: 100 }), await lastLogits(edited, plain, { batchSize: 100 }));
}
