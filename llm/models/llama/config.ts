// Llama-family configuration (Llama 2/3, Qwen2, SmolLM, TinyStories llama2.c), read from a
// Hugging Face config.json with the same field names.

export interface LlamaConfig {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  attentionBias: boolean;
  maxPositions: number;
  bosTokenId?: number;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new Error(`${file}: missing field "${key}" (a number)`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: field "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function llamaConfigFromHf(cfg: Json, file = 'config.json'): LlamaConfig {
  const type = cfg.model_type;
  const known = ['llama', 'qwen2', 'mistral'];
  if (typeof type === 'string' && !known.includes(type)) {
    throw new Error(`${file}: model_type "${type}" is not a Llama-family model (supported: ${known.join(', ')})`);
  }
  const hiddenSize = num(cfg, 'hidden_size', file);
  const numHeads = num(cfg, 'num_attention_heads', file);
  const rope = (cfg.rope_parameters ?? cfg.rope_scaling ?? {}) as Json;
  if (rope && typeof rope.rope_type === 'string' && rope.rope_type !== 'default') {
    throw new Error(`${file}: rope_type "${rope.rope_type}" is not supported yet (only "default")`);
  }
  const eos = cfg.eos_token_id;
  return {
    hiddenSize,
    numLayers: num(cfg, 'num_hidden_layers', file),
    numHeads,
    numKvHeads: num(cfg, 'num_key_value_heads', file, numHeads),
    headDim: num(cfg, 'head_dim', file, hiddenSize / numHeads),
    intermediateSize: num(cfg, 'intermediate_size', file),
    vocabSize: num(cfg, 'vocab_size', file),
    ropeTheta: typeof rope.rope_theta === 'number' ? rope.rope_theta : num(cfg, 'rope_theta', file, 10000),
    rmsNormEps: num(cfg, 'rms_norm_eps', file, 1e-6),
    tieWordEmbeddings: cfg.tie_word_embeddings === true,
    attentionBias: cfg.attention_bias === true || type === 'qwen2',
    maxPositions: num(cfg, 'max_position_embeddings', file, 2048),
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : undefined,
    eosTokenIds: Array.isArray(eos) ? eos.filter((e): e is number => typeof e === 'number') : typeof eos === 'number' ? [eos] : [],
  };
}

export function validateConfig(c: LlamaConfig): void {
  const bad = (msg: string) => { throw new Error(`llama config: ${msg}`); };
  if (c.numHeads % c.numKvHeads !== 0) bad(`num_attention_heads ${c.numHeads} must be a multiple of num_key_value_heads ${c.numKvHeads}`);
  if (c.headDim % 2 !== 0) bad(`head_dim ${c.headDim} must be even for RoPE`);
  for (const k of ['hiddenSize', 'numLayers', 'numHeads', 'intermediateSize', 'vocabSize'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(`${k} must be a positive integer, got ${c[k]}`);
  }
}
