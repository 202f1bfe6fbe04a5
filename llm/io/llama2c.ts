// llama2.c checkpoints (.bin), returned as Hugging Face Llama tensors.
//
// Version 0 ("legacy", what run.c reads and what karpathy/tinyllamas ships):
//   7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
//              (vocab_size < 0 means the classifier is NOT shared with the embedding)
//   f32: token_embedding_table [vocab, dim]
//        rms_att_weight [L, dim], wq [L, dim, dim], wk [L, kv_dim, dim], wv [L, kv_dim, dim], wo [L, dim, dim]
//        rms_ffn_weight [L, dim], w1 [L, hidden, dim], w2 [L, dim, hidden], w3 [L, hidden, dim]
//        rms_final_weight [dim], freq_cis_real [seq_len, head_size/2], freq_cis_imag (same; unused)
//        wcls [vocab, dim] only when unshared
// Version 1 (export.py --version 1): a 256-byte header (uint32 magic "ak42" = 0x616b3432, int32
// version, the 7 ints with vocab_size positive, uint8 shared_classifier, zero padding), then the
// norms first: rms_att [L, dim], rms_ffn [L, dim], rms_final [dim], embedding, wq, wk, wv, wo, w1, w2,
// w3, [wcls]; no freq_cis.
// Version 2 (int8 Q8_0) is refused with a clear message.
// All matrices are PyTorch nn.Linear weights, i.e. [out, in] row-major, matching HF's layout.
import { FormatError } from './format-error.ts';
import { readF32Array, readI32, readU32 } from './little-endian.ts';
import { readFileBytes } from './node-fs.ts';
import { interleavedToRotateHalf, type RopeLayout } from './rope-layout.ts';
import type { FloatTensorData } from './tensor-data.ts';

export type { RopeLayout } from './rope-layout.ts';

export const LLAMA2C_MAGIC = 0x616b3432;

export interface Llama2cConfig {
  /** Export format version: 0 (legacy) or 1. */
  version: 0 | 1;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** Classifier (lm_head) shares the token embedding. */
  sharedClassifier: boolean;
  headDim: number;
}

/** The same model described with transformers' LlamaConfig field names (config.json). */
export interface HfLlamaConfig {
  architectures: ['LlamaForCausalLM'];
  model_type: 'llama';
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  vocab_size: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
  hidden_act: 'silu';
  bos_token_id: number;
  eos_token_id: number;
}

export interface Llama2cCheckpoint {
  config: Llama2cConfig;
  hfConfig: HfLlamaConfig;
  /** Row layout of the returned q_proj/k_proj weights; 'rotate_half' is what HF LlamaModel expects. */
  ropeLayout: RopeLayout;
  /**
   * Hugging Face names: model.embed_tokens.weight, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
   * post_attention_layernorm, mlp.{gate,down,up}_proj}.weight, model.norm.weight, and lm_head.weight only
   * when the classifier is not shared (tied embeddings are not duplicated, as in HF files).
   */
  tensors: Map<string, FloatTensorData>;
}

export interface Llama2cReadOptions {
  /** Used in error messages. */
  fileName?: string;
  /**
   * Layout for q_proj/k_proj rows. 'rotate_half' (default) permutes llama2.c's interleaved rows the way
   * convert_llama_weights_to_hf.py does, so the tensors are a drop-in HF state dict; 'interleaved' keeps
   * the file's rows (for a RoPE that rotates adjacent pairs, as run.c does).
   */
  ropeLayout?: RopeLayout;
}

const V0_HEADER_BYTES = 28;
const V1_HEADER_BYTES = 256;

function parseConfig(bytes: Uint8Array, fileName: string): Llama2cConfig {
  if (bytes.length < V0_HEADER_BYTES) {
    throw new FormatError(fileName, `file is ${bytes.length} bytes; a llama2.c checkpoint starts with a ${V0_HEADER_BYTES}-byte header`);
  }
  let version: 0 | 1 = 0;
  let base = 0;
  if (readU32(bytes, 0) === LLAMA2C_MAGIC) {
    const v = readI32(bytes, 4);
    if (v === 2) throw new FormatError(fileName, 'llama2.c version 2 (int8 Q8_0) checkpoints are not supported; export with --version 0 or 1 (float32)', 'version');
    if (v !== 1) throw new FormatError(fileName, `unknown llama2.c export version ${v} (expected 0 = legacy header, or 1)`, 'version');
    if (bytes.length < V1_HEADER_BYTES) {
      throw new FormatError(fileName, `file is ${bytes.length} bytes; a version-1 checkpoint starts with a ${V1_HEADER_BYTES}-byte header`);
    }
    version = 1;
    base = 8;
  }
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;
  const h = names.map((_, i) => readI32(bytes, base + 4 * i));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = h as [number, number, number, number, number, number, number];
  for (let i = 0; i < names.length; i++) {
    const v = h[i]!;
    if (names[i] === 'vocab_size' ? v === 0 || (version === 1 && v < 0) : v <= 0) {
      throw new FormatError(fileName, `header value ${v} is invalid (header: ${names.map((n, j) => `${n}=${h[j]}`).join(', ')})`, names[i]);
    }
  }
  if (dim % nHeads !== 0 || (dim / nHeads) % 2 !== 0) {
    throw new FormatError(fileName, `dim ${dim} must be n_heads (${nHeads}) x an even head size`, 'dim');
  }
  if (nHeads % nKvHeads !== 0) {
    throw new FormatError(fileName, `n_heads ${nHeads} must be a multiple of n_kv_heads ${nKvHeads}`, 'n_kv_heads');
  }
  let sharedClassifier: boolean;
  if (version === 0) {
    sharedClassifier = rawVocab > 0;
  } else {
    const flag = bytes[base + 28]!;
    if (flag > 1) throw new FormatError(fileName, `must be 0 or 1, got ${flag}`, 'shared_classifier');
    sharedClassifier = flag === 1;
  }
  return {
    version,
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize: Math.abs(rawVocab),
    seqLen,
    sharedClassifier,
    headDim: dim / nHeads,
  };
}

/** Every f32 array in file order, with its element count. */
function layout(c: Llama2cConfig): { key: string; count: number }[] {
  const { dim, hiddenDim: hid, nLayers: L, vocabSize: V } = c;
  const kvDim = c.nKvHeads * c.headDim;
  const emb = { key: 'embed', count: V * dim };
  const mats = [
    { key: 'wq', count: L * dim * dim },
    { key: 'wk', count: L * kvDim * dim },
    { key: 'wv', count: L * kvDim * dim },
    { key: 'wo', count: L * dim * dim },
  ];
  const ffn = [
    { key: 'w1', count: L * hid * dim },
    { key: 'w2', count: L * dim * hid },
    { key: 'w3', count: L * hid * dim },
  ];
  const cls = c.sharedClassifier ? [] : [{ key: 'wcls', count: V * dim }];
  if (c.version === 1) {
    return [
      { key: 'rms_att', count: L * dim },
      { key: 'rms_ffn', count: L * dim },
      { key: 'rms_final', count: dim },
      emb, ...mats, ...ffn, ...cls,
    ];
  }
  const freq = (c.seqLen * c.headDim) / 2;
  return [
    emb,
    { key: 'rms_att', count: L * dim },
    ...mats,
    { key: 'rms_ffn', count: L * dim },
    ...ffn,
    { key: 'rms_final', count: dim },
    { key: 'freq_cis_real', count: freq },
    { key: 'freq_cis_imag', count: freq },
    ...cls,
  ];
}

export function readLlama2cCheckpoint(bytes: Uint8Array, options: Llama2cReadOptions = {}): Llama2cCheckpoint {
  const fileName = options.fileName ?? '<llama2.c checkpoint>';
  const ropeLayout = options.ropeLayout ?? 'rotate_half';
  const c = parseConfig(bytes, fileName);
  const parts = layout(c);
  const headerBytes = c.version === 1 ? V1_HEADER_BYTES : V0_HEADER_BYTES;
  const expected = headerBytes + 4 * parts.reduce((s, p) => s + p.count, 0);
  const describe = `dim=${c.dim} hidden_dim=${c.hiddenDim} n_layers=${c.nLayers} n_heads=${c.nHeads} n_kv_heads=${c.nKvHeads} vocab_size=${c.vocabSize}${c.sharedClassifier ? '' : ' (unshared classifier)'} seq_len=${c.seqLen}`;
  if (bytes.length < expected) {
    throw new FormatError(fileName, `truncated: header (${describe}) needs ${expected} bytes, file has ${bytes.length}`);
  }
  if (bytes.length > expected) {
    throw new FormatError(fileName, `header (${describe}) needs ${expected} bytes but the file has ${bytes.length}: ${bytes.length - expected} unexpected trailing bytes (wrong header or not a llama2.c version-${c.version} file)`);
  }

  const arrays = new Map<string, Float32Array>();
  let offset = headerBytes;
  for (const p of parts) {
    arrays.set(p.key, readF32Array(bytes, offset, p.count));
    offset += 4 * p.count;
  }

  const { dim, hiddenDim: hid, nLayers: L, vocabSize: V, nHeads, nKvHeads, headDim } = c;
  const kvDim = nKvHeads * headDim;
  const tensors = new Map<string, FloatTensorData>();
  const put = (name: string, shape: number[], data: Float32Array): void => {
    tensors.set(name, { name, dtype: 'f32', shape, data, sourceDtype: 'F32' });
  };
  // Layer l's slice of a [L, ...] stack, as its own buffer.
  const layer = (key: string, l: number, size: number): Float32Array => arrays.get(key)!.slice(l * size, (l + 1) * size);

  put('model.embed_tokens.weight', [V, dim], arrays.get('embed')!);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    let wq = layer('wq', l, dim * dim);
    let wk = layer('wk', l, kvDim * dim);
    if (ropeLayout === 'rotate_half') {
      wq = interleavedToRotateHalf(wq, nHeads, dim);
      wk = interleavedToRotateHalf(wk, nKvHeads, dim);
    }
    put(`${p}input_layernorm.weight`, [dim], layer('rms_att', l, dim));
    put(`${p}self_attn.q_proj.weight`, [dim, dim], wq);
    put(`${p}self_attn.k_proj.weight`, [kvDim, dim], wk);
    put(`${p}self_attn.v_proj.weight`, [kvDim, dim], layer('wv', l, kvDim * dim));
    put(`${p}self_attn.o_proj.weight`, [dim, dim], layer('wo', l, dim * dim));
    put(`${p}post_attention_layernorm.weight`, [dim], layer('rms_ffn', l, dim));
    put(`${p}mlp.gate_proj.weight`, [hid, dim], layer('w1', l, hid * dim));
    put(`${p}mlp.down_proj.weight`, [dim, hid], layer('w2', l, dim * hid));
    put(`${p}mlp.up_proj.weight`, [hid, dim], layer('w3', l, hid * dim));
  }
  put('model.norm.weight', [dim], arrays.get('rms_final')!);
  if (!c.sharedClassifier) put('lm_head.weight', [V, dim], arrays.get('wcls')!);

  return {
    config: c,
    ropeLayout,
    tensors,
    hfConfig: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: dim,
      intermediate_size: hid,
      num_hidden_layers: L,
      num_attention_heads: nHeads,
      num_key_value_heads: nKvHeads,
      head_dim: headDim,
      vocab_size: V,
      max_position_embeddings: c.seqLen,
      // run.c hard-codes both: rmsnorm adds 1e-5, RoPE uses base 10000.
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: c.sharedClassifier,
      hidden_act: 'silu',
      // sentencepiece Llama vocabularies: <unk>=0, <s>=1, </s>=2 (run.c assumes BOS=1).
      bos_token_id: 1,
      eos_token_id: 2,
    },
  };
}

/** Reads a llama2.c checkpoint by path (Node/Deno). */
export async function readLlama2cCheckpointFile(path: string, options: Omit<Llama2cReadOptions, 'fileName'> = {}): Promise<Llama2cCheckpoint> {
  return readLlama2cCheckpoint(await readFileBytes(path), { ...options, fileName: path });
}
