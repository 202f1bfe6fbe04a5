// LlamaForCausalLM: pre-norm decoder blocks with RoPE attention (GQA) and a SwiGLU MLP.
// Parameter names match Hugging Face (model.layers.N.self_attn.q_proj.weight, ...).
import type { Backend } from '../../../engine/index.ts';
import { Tensor } from '../../../engine/tensor.ts';
import {
  add, matmul, narrow, permute, reshape, rope, RopeTables, scaledDotProductAttention, swiglu, tensor,
} from '../../../engine/ops/index.ts';
import { Embedding, Linear, RMSNorm } from '../../../engine/nn/layers.ts';
import { Module } from '../../../engine/nn/module.ts';
import { type LlamaConfig, validateConfig } from './config.ts';
import type { KVCache } from './kv-cache.ts';
import { fusedDecodeBlock, type MergedAdapters } from './decode.ts';

export interface ForwardOpts {
  cache?: KVCache;
  /** Position of each token [B][T]; default: continues from the cache length. */
  positions?: number[][];
  /**
   * Segment id of each token [B][T]: a token attends to earlier tokens of its own segment only
   * (padding 0, examples 1, 2, ...: right/left padding and packed rows). Default: one segment (1).
   * A cache remembers the ids of the tokens it holds.
   */
  segments?: number[][];
  /** Compute logits only at the last position (generation): [B, 1, vocab]. */
  lastOnly?: boolean;
  /** LoRA adapters merged for a generation (decode.ts MergedAdapters): cached steps of adapted blocks take the fused path. */
  merged?: MergedAdapters | null;
}

/** Where an editing hook (llm/editing/hooks.ts) sees the residual stream of block `layer`. */
export type HookPoint = 'block_input' | 'attn_output' | 'mlp_output' | 'block_output';
/** x [B, T, hidden] → [B, T, hidden]; positions [B][T] as the forward uses them. */
export type ForwardHook = (x: Tensor, at: { point: HookPoint; layer: number; positions: number[][] }) => Tensor;
type LayerHook = (point: HookPoint, x: Tensor) => Tensor;
const noHook: LayerHook = (_p, x) => x;

/** A Linear, or a LoRALinear wrapped around one (applyLoRA swaps them in place). */
export interface Projection { forward(x: Tensor): Tensor }

class Attention extends Module {
  q_proj: Projection; k_proj: Projection; v_proj: Projection; o_proj: Projection;
  constructor(private c: LlamaConfig, o: { backend: Backend }) {
    super();
    const bias = c.attentionBias;
    this.q_proj = this.child('q_proj', new Linear(c.hiddenSize, c.numHeads * c.headDim, { ...o, bias }));
    this.k_proj = this.child('k_proj', new Linear(c.hiddenSize, c.numKvHeads * c.headDim, { ...o, bias }));
    this.v_proj = this.child('v_proj', new Linear(c.hiddenSize, c.numKvHeads * c.headDim, { ...o, bias }));
    this.o_proj = this.child('o_proj', new Linear(c.numHeads * c.headDim, c.hiddenSize, o));
  }

  /** x [B, T, hidden] → [B, T, hidden] */
  forward(x: Tensor, layer: number, tables: RopeTables, seg: Segments | null, cache?: KVCache): Tensor {
    const { numHeads: H, numKvHeads: KV, headDim: D } = this.c;
    const [B, T] = x.shape;
    const heads = (t: Tensor, n: number) => permute(reshape(t, [B, T, n, D]), [0, 2, 1, 3]); // [B, n, T, D]
    let o: Tensor; // [B, H, T, D]
    if (cache) {
      // Decoding: rope of q and k and the write of k, v into the preallocated cache in one kernel.
      const rows = (t: Tensor, n: number) => ({ t, layout: { stride: n * D, offset: 0 } });
      const q = cache.write(layer, rows(this.q_proj.forward(x), H), rows(this.k_proj.forward(x), KV), rows(this.v_proj.forward(x), KV), tables, H);
      o = cache.attend(layer, q, seg);
    } else {
      const q = rope(heads(this.q_proj.forward(x), H), { tables });
      const k = rope(heads(this.k_proj.forward(x), KV), { tables });
      // Fused causal attention, GQA without repeating k/v.
      o = scaledDotProductAttention(q, k, heads(this.v_proj.forward(x), KV), seg ?? {});
    }
    return this.o_proj.forward(reshape(permute(o, [0, 2, 1, 3]), [B, T, H * D]));
  }
}

class MLP extends Module {
  gate_proj: Projection; up_proj: Projection; down_proj: Projection;
  constructor(c: LlamaConfig, o: { backend: Backend }) {
    super();
    this.gate_proj = this.child('gate_proj', new Linear(c.hiddenSize, c.intermediateSize, o));
    this.up_proj = this.child('up_proj', new Linear(c.hiddenSize, c.intermediateSize, o));
    this.down_proj = this.child('down_proj', new Linear(c.intermediateSize, c.hiddenSize, o));
  }
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(swiglu(this.gate_proj.forward(x), this.up_proj.forward(x)));
  }
}

class DecoderLayer extends Module {
  self_attn: Attention; mlp: MLP; input_layernorm: RMSNorm; post_attention_layernorm: RMSNorm;
  constructor(private c: LlamaConfig, o: { backend: Backend }) {
    super();
    this.self_attn = this.child('self_attn', new Attention(c, o));
    this.mlp = this.child('mlp', new MLP(c, o));
    this.input_layernorm = this.child('input_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps, o));
    this.post_attention_layernorm = this.child('post_attention_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps, o));
  }
  forward(x: Tensor, layer: number, tables: RopeTables, seg: Segments | null, cache?: KVCache, hook = noHook, merged: MergedAdapters | null = null): Tensor {
    if (cache && hook === noHook) { // decoding without editing hooks: the fused step (decode.ts) where it applies
      const y = fusedDecodeBlock(this, this.c, x, layer, tables, seg, cache, merged);
      if (y) return y;
    }
    x = hook('block_input', x);
    const h = add(x, hook('attn_output', this.self_attn.forward(this.input_layernorm.forward(x), layer, tables, seg, cache)));
    return hook('block_output', add(h, hook('mlp_output', this.mlp.forward(this.post_attention_layernorm.forward(h)))));
  }
}

class LlamaModel extends Module {
  embed_tokens: Embedding; layers: DecoderLayer[]; norm: RMSNorm;
  constructor(c: LlamaConfig, o: { backend: Backend }) {
    super();
    this.embed_tokens = this.child('embed_tokens', new Embedding(c.vocabSize, c.hiddenSize, o));
    const layers = this.child('layers', new LayerList());
    this.layers = Array.from({ length: c.numLayers }, (_, i) => layers.add(String(i), new DecoderLayer(c, o)));
    this.norm = this.child('norm', new RMSNorm(c.hiddenSize, c.rmsNormEps, o));
  }
}

class LayerList extends Module {
  add<M extends Module>(name: string, m: M): M { return this.child(name, m); }
}

export class LlamaForCausalLM extends Module {
  readonly model: LlamaModel;
  readonly lm_head: Linear | null;
  /** Consulted by every forward, in order (abliteration, steering, residual capture). */
  readonly hooks: ForwardHook[] = [];

  constructor(readonly config: LlamaConfig, opts: { backend: Backend }) {
    super();
    validateConfig(config);
    this.model = this.child('model', new LlamaModel(config, opts));
    this.lm_head = config.tieWordEmbeddings ? null : this.child('lm_head', new Linear(config.hiddenSize, config.vocabSize, opts));
  }

  get backend(): Backend { return this.model.embed_tokens.weight.backend; }

  /** ids i32 [B, T] → logits [B, T, vocab]. With a cache, positions continue from what it holds. */
  forward(ids: Tensor, opts: ForwardOpts = {}): Tensor {
    return matmul(this.hidden(ids, opts), this.headWeight, { transB: true });
  }

  /** lm_head's weight [vocab, hidden] (the embedding's when tied): logits = hidden · headWeightᵀ. */
  get headWeight(): Tensor {
    return this.lm_head ? this.lm_head.weight : this.model.embed_tokens.weight;
  }

  /**
   * The final (normed) hidden states [B, T, hidden] that forward() multiplies by the lm_head. Losses
   * apply the head themselves, in row chunks (lmHeadLogprobs), so [B, T, vocab] logits never exist.
   */
  hidden(ids: Tensor, opts: ForwardOpts = {}): Tensor {
    const [B, T] = ids.shape;
    if (ids.ndim !== 2 || ids.dtype !== 'i32') throw new Error(`llama forward: ids must be i32 [batch, seq], got ${ids.describe()}`);
    const past = opts.cache?.length ?? 0;
    const positions = opts.positions ?? Array.from({ length: B }, () => Array.from({ length: T }, (_, t) => past + t));
    if (positions.length !== B || positions.some((p) => p.length !== T)) {
      throw new Error(`llama forward: positions must be [${B}][${T}] for ids ${ids.describe()}`);
    }
    const segQ = opts.segments ?? Array.from({ length: B }, () => new Array<number>(T).fill(1));
    if (segQ.length !== B || segQ.some((r) => r.length !== T || r.some((id) => !Number.isInteger(id)))) {
      throw new Error(`llama forward: segments must be [${B}][${T}] integers for ids ${ids.describe()}`);
    }
    if (opts.cache) opts.cache.reserve(B, T, this.config.numKvHeads, this.config.headDim, this.backend);
    const seg = opts.cache ? opts.cache.segmentTensors(segQ) : segmentTensors(segQ, segQ, this.backend);
    // cos/sin computed and uploaded once, shared by every layer's q and k (and their backward).
    const tables = new RopeTables(positions, this.config.headDim, this.config.ropeTheta, this.backend);
    let h = this.model.embed_tokens.forward(ids);
    const hooks = this.hooks.length ? this.hooks.slice() : null;
    const at = (layer: number): LayerHook | undefined => hooks
      ? (point, x) => hooks.reduce((y, f) => f(y, { point, layer, positions }), x) : undefined;
    this.model.layers.forEach((layer, i) => { h = layer.forward(h, i, tables, seg, opts.cache, at(i), opts.merged ?? null); });
    if (opts.cache) opts.cache.advance(T);
    if (opts.lastOnly) h = narrow(h, 1, T - 1, 1);
    return this.model.norm.forward(h);
  }
}

/** Segment ids of the queries [B, T] and keys [B, S] as i32 tensors for scaledDotProductAttention. */
interface Segments { segQ: Tensor; segK: Tensor }

/** Null when every query and key shares one segment: the causal mask alone says it all. */
function segmentTensors(segQ: number[][], segK: number[][], backend: Backend): Segments | null {
  const first = segK[0]?.[0] ?? segQ[0]?.[0];
  if (segQ.every((r) => r.every((id) => id === first)) && segK.every((r) => r.every((id) => id === first))) return null;
  const B = segQ.length;
  return {
    segQ: tensor(Int32Array.from(segQ.flat()), [B, segQ[0].length], { backend, dtype: 'i32' }),
    segK: tensor(Int32Array.from(segK.flat()), [B, segK[0].length], { backend, dtype: 'i32' }),
  };
}
