// A tiny random Llama with a behaviour planted along a known unit direction d: "twin" tokens embed as
// their plain token plus α_t·d (α_t from 0.6 to 1.5, so pairs differ in how far they move along d),
// every embedding carries a shared offset b ⟂ d (so plain prompts sit away from d after the final
// norm), and the lm_head row of the refusal token is β·d. Prompts of twin tokens therefore "refuse";
// their plain copies do not. Weights are Normal(0, 0.02), so blocks barely mix the stream.
import type { Backend } from '../../backends/backend.ts';
import { noGrad, tensor, tidy } from '../../engine/index.ts';
import { Generator } from '../../engine/random.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';

export const H = 16;
export const PLAIN = 12; // ids 0..11 plain, 12..23 their twins, 24..31 other
export const VOCAB = 32;
export const REFUSAL_TOKEN = 30;

export function unitVector(n: number, seed: number): Float32Array {
  const g = new Generator(seed);
  const v = Float64Array.from({ length: n }, () => g.normal());
  const s = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / s);
}

export function tinyConfig(tied: boolean, layers = 3) {
  return {
    hiddenSize: H, numLayers: layers, numHeads: 2, numKvHeads: 1, headDim: 8, intermediateSize: 32, vocabSize: VOCAB,
    ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: tied, attentionBias: false, maxPositions: 64, eosTokenIds: [],
  };
}

export async function plantedModel(backend: Backend, d: Float32Array, seed = 0): Promise<LlamaForCausalLM> {
  const model = new LlamaForCausalLM(tinyConfig(false), { backend });
  randomInit(model, seed);
  // b: a unit vector made orthogonal to d.
  const b0 = unitVector(H, seed + 100);
  const bd = b0.reduce((s, v, j) => s + v * d[j], 0);
  const b = b0.map((v, j) => v - bd * d[j]);
  const bn = Math.hypot(...b);
  const E = await model.model.embed_tokens.weight.data();
  const emb = Float32Array.from(E);
  for (let t = 0; t < VOCAB; t++) for (let j = 0; j < H; j++) emb[t * H + j] += b[j] / bn;
  for (let t = 0; t < PLAIN; t++) {
    const alpha = 0.6 + (0.9 * t) / (PLAIN - 1);
    for (let j = 0; j < H; j++) emb[(PLAIN + t) * H + j] = emb[t * H + j] + alpha * d[j];
  }
  const head = Float32Array.from(await model.lm_head!.weight.data());
  for (let j = 0; j < H; j++) head[REFUSAL_TOKEN * H + j] = 2 * d[j];
  noGrad(() => tidy(() => {
    model.model.embed_tokens.weight.assign(tensor(emb, [VOCAB, H], { backend }));
    model.lm_head!.weight.assign(tensor(head, [VOCAB, H], { backend }));
  }));
  return model;
}

/** n prompts of plain tokens (length 3..6) and the same prompts with every token its twin. */
export function plantedPrompts(n: number, seed: number): { plain: number[][]; twin: number[][] } {
  const g = new Generator(seed);
  const plain = Array.from({ length: n }, () => Array.from({ length: 3 + Math.floor(g.uniform() * 4) }, () => Math.floor(g.uniform() * PLAIN)));
  return { plain, twin: plain.map((p) => p.map((t) => t + PLAIN)) };
}

export function cos(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}
