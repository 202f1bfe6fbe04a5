// Candidate refusal directions r(l, i) = mean(harmful) − mean(harmless) of the residual stream at
// block l's input and prompt position i (Arditi et al., pipeline/submodules/generate_directions.py:
// forward pre-hooks on every block, the post-instruction positions).
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { captureResidual } from '../capture.ts';
import { rowMean } from '../linalg.ts';

export interface Candidates {
  /** Offsets from each prompt's end (−1: last token). */
  offsets: number[];
  /** directions[l][i]: mean difference at block l's input, offset i [hidden]. */
  directions: Float64Array[][];
  /** The harmless mean at the same places (for biprojection, grimjim). */
  harmlessMean: Float64Array[][];
}

export async function refusalCandidates(
  model: LlamaForCausalLM, harmful: readonly number[][], harmless: readonly number[][], o: { offsets?: number[]; batchSize?: number } = {},
): Promise<Candidates> {
  if (!harmful.length || !harmless.length) throw new Error(`abliteration: need harmful and harmless prompts (got ${harmful.length} and ${harmless.length})`);
  const { numLayers: L, hiddenSize: H } = model.config;
  const offsets = o.offsets ?? [-1];
  const spec = { layers: Array.from({ length: L }, (_, l) => l), point: 'block_input' as const, offsets, batchSize: o.batchSize };
  const a = await captureResidual(model, harmful, spec);
  const b = await captureResidual(model, harmless, spec);
  const harmlessMean = b.map((perOff) => perOff.map((X) => rowMean(X, harmless.length, H)));
  const directions = a.map((perOff, l) => perOff.map((X, i) => {
    const m = rowMean(X, harmful.length, H);
    return m.map((v, j) => v - harmlessMean[l][i][j]);
  }));
  return { offsets, directions, harmlessMean };
}

/** r − (r·μ̂)μ̂ with μ the harmless mean: the refusal direction without its harmless component (grimjim's biprojection). */
export function biproject(r: Float64Array, harmlessMean: Float64Array): Float64Array {
  let mm = 0, rm = 0;
  for (let j = 0; j < r.length; j++) { mm += harmlessMean[j] ** 2; rm += r[j] * harmlessMean[j]; }
  if (!(mm > 0)) return r.slice();
  return r.map((v, j) => v - (rm / mm) * harmlessMean[j]);
}
