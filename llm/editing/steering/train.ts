// A control vector from contrast pairs, as repeng's read_representations (repeng/extract.py): the
// hidden state after each chosen block at one token of every positive and negative text, then per
// block
//   pca_diff:   first principal component of (pos − neg)                 (sklearn PCA: centred)
//   pca_center: first principal component of pos − c and neg − c, c = (pos + neg)/2
//   mean_diff:  mean of (pos − neg), not normalised (CAA, nrimsky/CAA generate_vectors.py)
// PCA directions are unit vectors, signed so that positives project higher than their negatives in
// most pairs (repeng's rule). The token is the last one of each text (repeng: last non-padding
// token) or, for CAA A/B prompts, the answer letter (offset −2 of "... (A)").
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { captureResidual } from '../capture.ts';
import { dot, firstPrincipalComponent } from '../linalg.ts';

export const STEERING_METHODS = ['pca_diff', 'pca_center', 'mean_diff'] as const;
export type SteeringMethod = (typeof STEERING_METHODS)[number];

export interface ContrastPair { positive: number[]; negative: number[] }

export interface SteeringTrainOptions {
  method?: SteeringMethod;
  /** Blocks (0-based) whose outputs get a direction; default 1..L−1 (repeng's range(-1, -L, -1); llama.cpp has no slot for 0). */
  layers?: number[];
  /** Negative offset of the token read in each text (default −1). */
  offset?: number;
  batchSize?: number;
}

export async function trainSteeringVector(model: LlamaForCausalLM, pairs: readonly ContrastPair[], o: SteeringTrainOptions = {}): Promise<Map<number, Float32Array>> {
  const method = o.method ?? 'pca_diff';
  if (!STEERING_METHODS.includes(method)) throw new Error(`steering: unknown method ${JSON.stringify(method)} (expected ${STEERING_METHODS.join(', ')})`);
  const { numLayers: L, hiddenSize: H } = model.config;
  const layers = o.layers ?? Array.from({ length: L - 1 }, (_, i) => i + 1);
  const N = pairs.length;
  if (N < (method === 'mean_diff' ? 1 : 2)) throw new Error(`steering: ${method} needs at least ${method === 'mean_diff' ? 1 : 2} pairs, got ${N}`);
  // Interleaved as repeng: [pos0, neg0, pos1, neg1, ...].
  const texts = pairs.flatMap((p) => [p.positive, p.negative]);
  const acts = await captureResidual(model, texts, { layers, point: 'block_output', offsets: [o.offset ?? -1], batchSize: o.batchSize });
  const out = new Map<number, Float32Array>();
  layers.forEach((l, li) => {
    const h = acts[li][0]; // [2N, H]
    const pos = (i: number) => h.subarray(2 * i * H, (2 * i + 1) * H);
    const neg = (i: number) => h.subarray((2 * i + 1) * H, (2 * i + 2) * H);
    let dir: Float64Array;
    if (method === 'mean_diff') {
      dir = new Float64Array(H);
      for (let i = 0; i < N; i++) { const p = pos(i), n = neg(i); for (let j = 0; j < H; j++) dir[j] += (p[j] - n[j]) / N; }
    } else {
      const rows = method === 'pca_diff' ? N : 2 * N;
      const X = new Float64Array(rows * H);
      for (let i = 0; i < N; i++) {
        const p = pos(i), n = neg(i);
        for (let j = 0; j < H; j++) {
          if (method === 'pca_diff') X[i * H + j] = p[j] - n[j];
          else { const c = (p[j] + n[j]) / 2; X[2 * i * H + j] = p[j] - c; X[(2 * i + 1) * H + j] = n[j] - c; }
        }
      }
      dir = firstPrincipalComponent(X, rows, H, { seed: l });
      let smaller = 0, larger = 0;
      for (let i = 0; i < N; i++) { const d = dot(pos(i), dir) - dot(neg(i), dir); if (d < 0) smaller++; else if (d > 0) larger++; }
      if (smaller > larger) dir = dir.map((v) => -v);
    }
    out.set(l, Float32Array.from(dir));
  });
  return out;
}
