// Model shapes the training and generation suites run with random weights (f32), and the FLOP /
// byte estimates of a forward pass over them. Shapes from each model's config.json on the Hub.
import type { LlamaConfig } from '../llm/models/llama/config.ts';

export interface ModelShape { id: string; config: LlamaConfig }

const base = { rmsNormEps: 1e-5, maxPositions: 2048, eosTokenIds: [] as number[] };

export const SMOLLM2_135M: ModelShape = {
  id: 'smollm2-135m',
  config: { ...base, hiddenSize: 576, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536,
    vocabSize: 49152, ropeTheta: 100000, tieWordEmbeddings: true, attentionBias: false },
};

export const QWEN25_05B: ModelShape = {
  id: 'qwen2.5-0.5b',
  config: { ...base, hiddenSize: 896, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64, intermediateSize: 4864,
    vocabSize: 151936, ropeTheta: 1000000, rmsNormEps: 1e-6, tieWordEmbeddings: true, attentionBias: true },
};

export const TINYLLAMA_11B: ModelShape = {
  id: 'tinyllama-1.1b',
  config: { ...base, hiddenSize: 2048, numLayers: 22, numHeads: 32, numKvHeads: 4, headDim: 64, intermediateSize: 5632,
    vocabSize: 32000, ropeTheta: 10000, tieWordEmbeddings: false, attentionBias: false },
};

/** Quick mode and correctness checks: every code path of the big shapes (GQA, tied head) at toy size. */
export const TINY: ModelShape = {
  id: 'tiny',
  config: { ...SMOLLM2_135M.config, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 128, vocabSize: 256 },
};

/** Weights that take part in matmuls per token: every projection of every layer, plus the LM head. */
export function matmulParams(c: LlamaConfig): number {
  const qo = 2 * c.hiddenSize * c.numHeads * c.headDim;
  const kv = 2 * c.hiddenSize * c.numKvHeads * c.headDim;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  return c.numLayers * (qo + kv + mlp) + c.vocabSize * c.hiddenSize;
}

/** Every weight (embedding, separate LM head if untied, norms, biases). */
export function totalParams(c: LlamaConfig): number {
  const embed = c.vocabSize * c.hiddenSize;
  const norms = (2 * c.numLayers + 1) * c.hiddenSize;
  const bias = c.attentionBias ? c.numLayers * (c.numHeads + 2 * c.numKvHeads) * c.headDim : 0;
  return matmulParams(c) - (c.tieWordEmbeddings ? c.vocabSize * c.hiddenSize : 0) + embed + norms + bias;
}

/** Causal attention FLOPs of one forward over [B, T] (scores and weighted sum, unmasked half). */
export function attentionFlops(c: LlamaConfig, B: number, T: number): number {
  return c.numLayers * 2 * B * c.numHeads * T * T * c.headDim;
}
