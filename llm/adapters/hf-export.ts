// A Llama model as a Hugging Face folder's contents: config.json and model.safetensors (the names
// transformers' save_pretrained writes; a tied lm_head is not stored, as there). Browser-safe: the
// caller writes the bytes (files.ts does it on Node).
import { writeSafetensors } from '../io/safetensors-writer.ts';
import { llamaConfigFromHf, type LlamaConfig } from '../models/llama/config.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { loraLayers } from './layers.ts';

type Json = Record<string, unknown>;
export type ExportDtype = 'F32' | 'F16' | 'BF16';

const TORCH_DTYPE: Record<ExportDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** config.json for a LlamaConfig: Qwen2 when q/k/v carry a bias (HF Llama's attention_bias also biases o_proj). */
export function hfConfigJson(c: LlamaConfig, dtype: ExportDtype = 'F32'): Json {
  const qwen2 = c.attentionBias;
  const cfg: Json = {
    architectures: [qwen2 ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen2 ? 'qwen2' : 'llama',
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    tie_word_embeddings: c.tieWordEmbeddings,
    torch_dtype: TORCH_DTYPE[dtype],
    use_cache: true,
  };
  if (!qwen2) Object.assign(cfg, { attention_bias: false, mlp_bias: false });
  if (c.bosTokenId !== undefined) cfg.bos_token_id = c.bosTokenId;
  if (c.eosTokenIds.length) cfg.eos_token_id = c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds;
  return cfg;
}

const ARCH_FIELDS: (keyof LlamaConfig)[] = [
  'hiddenSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'intermediateSize', 'vocabSize',
  'ropeTheta', 'rmsNormEps', 'tieWordEmbeddings', 'attentionBias',
];

/**
 * The base model's own config.json with the dtype updated, after checking that it describes this
 * model (keeps fields we do not model: model_type, rope settings, token ids, ...).
 */
export function hfConfigFromBase(base: Json, c: LlamaConfig, dtype: ExportDtype, source: string): Json {
  const parsed = llamaConfigFromHf(base, source);
  for (const k of ARCH_FIELDS) {
    if (parsed[k] !== c[k]) throw new Error(`${source}: ${k} is ${parsed[k]} but the model's is ${c[k]}; this config.json is not the model's base`);
  }
  const out: Json = { ...base };
  if ('dtype' in out) out.dtype = TORCH_DTYPE[dtype];
  if ('torch_dtype' in out || !('dtype' in out)) out.torch_dtype = TORCH_DTYPE[dtype];
  return out;
}

/** model.safetensors bytes: every parameter by its Hugging Face name. */
export async function hfWeights(model: LlamaForCausalLM, dtype: ExportDtype = 'F32'): Promise<Uint8Array> {
  const lora = loraLayers(model);
  if (lora.size) {
    throw new Error(`exportHfFolder: the model still has LoRA layers (${[...lora.keys()][0]}, ...); merge them first (mergeLoRA) or save the adapter`);
  }
  const tensors = [];
  for (const [name, p] of model.namedParameters()) {
    if (p.dtype !== 'f32') throw new Error(`exportHfFolder: parameter ${name} has dtype ${p.dtype}, expected f32`);
    const d = await p.data();
    tensors.push({ name, shape: p.shape, data: d instanceof Float32Array ? d : Float32Array.from(d), dtype });
  }
  return writeSafetensors(tensors, { metadata: { format: 'pt' }, fileName: 'model.safetensors' });
}
