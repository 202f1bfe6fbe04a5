// The refusal direction removed from the weights (Arditi et al.'s orthogonalisation): every matrix
// that writes into the residual stream loses its r̂ component, so the stream never carries it.
//   embedding [vocab, hidden]:       W_E ← W_E − s·(W_E r̂) r̂ᵀ
//   o_proj, down_proj [hidden, in]:  W ← W − s_l·r̂ (r̂ᵀ W)
// s_l is the scale times heretic's per-layer kernel (model.py, abliterate: max weight at a position,
// falling linearly to the min weight over a distance, none beyond). Norm-preserving (grimjim,
// sharded_ablate.py modify_tensor_norm_preserved): each column of W (one input's write into the
// stream) keeps its norm and loses the r̂ component of its direction.
import { noGrad } from '../../../engine/autodiff.ts';
import { tidy } from '../../../engine/memory.ts';
import { add, div, matmul, mul, reshape, sqrt, sub, sum, tensor } from '../../../engine/ops/index.ts';
import type { Tensor } from '../../../engine/tensor.ts';
import { LlamaForCausalLM } from '../../models/llama/model.ts';
import { unit } from '../linalg.ts';

/** heretic's AbliterationParameters: weights by block index. */
export interface LayerKernel { maxWeight: number; maxWeightPosition: number; minWeight: number; minWeightDistance: number }

/** The two writers of a block: the attention's o_proj and the MLP's down_proj (heretic's "attn.o_proj", "mlp.down_proj"). */
export type WriterComponent = 'attn' | 'mlp';

export interface WeightEditOptions {
  /** Default 1 (full removal). */
  scale?: number;
  kernel?: LayerKernel;
  /**
   * heretic's per-component parameters: each writer its own kernel, a component left out is not
   * edited. Replaces `kernel` when given.
   */
  components?: Partial<Record<WriterComponent, LayerKernel>>;
  normPreserving?: boolean;
  /** Orthogonalise the embedding too (default true; heretic leaves it). Untied copies a tied lm_head first. */
  embedding?: boolean;
}

/** The weight of block l's `component` writer: scale × its kernel (0: untouched). */
export function layerWeight(l: number, o: WeightEditOptions, component?: WriterComponent): number {
  const s = o.scale ?? 1;
  if (o.components && !component) throw new Error('abliteration: per-component kernels need the component (attn or mlp) to weigh');
  const k = o.components ? o.components[component!] : o.kernel;
  if (o.components && !k) return 0;
  if (!k) return s;
  const distance = Math.abs(l - k.maxWeightPosition);
  if (distance > k.minWeightDistance) return 0;
  const w = k.minWeightDistance > 0 ? k.maxWeight + (distance / k.minWeightDistance) * (k.minWeight - k.maxWeight) : k.maxWeight;
  return s * w;
}

/** W [hidden, in] ← W − s·r̂ (r̂ᵀ W); r̂ [hidden]. */
function projectOutColumns(W: Tensor, r: Tensor, s: number): Tensor {
  const H = r.shape[0];
  const proj = matmul(reshape(r, [1, H]), W); // [1, in]
  return sub(W, mul(matmul(reshape(r, [H, 1]), proj), s));
}

/** grimjim's norm-preserving form of projectOutColumns (the second pass only at s = 1, where it cleans rounding). */
function projectOutColumnsKeepingNorms(W: Tensor, r: Tensor, s: number): Tensor {
  const colNorms = (x: Tensor) => add(sqrt(sum(mul(x, x), 0, true)), 1e-30); // [1, in]
  const n = colNorms(W);
  let d = projectOutColumns(div(W, n), r, s);
  d = div(d, colNorms(d));
  if (s === 1) { d = projectOutColumns(d, r, 1); d = div(d, colNorms(d)); }
  return mul(d, n);
}

/**
 * Edits the weights in place; returns the model, or a new untied one when the embedding is
 * orthogonalised in a model whose lm_head is tied to it (the head must keep the original rows).
 */
export function orthogonalizeWeights(model: LlamaForCausalLM, direction: ArrayLike<number>, o: WeightEditOptions = {}): LlamaForCausalLM {
  const H = model.config.hiddenSize;
  if (direction.length !== H) throw new Error(`abliteration: direction has ${direction.length} values, the model's hidden size is ${H}`);
  const editEmbedding = o.embedding ?? true;
  const m = editEmbedding && model.config.tieWordEmbeddings ? untie(model) : model;
  const rHost = Float32Array.from(unit(direction));
  noGrad(() => tidy(() => {
    const r = tensor(rHost, [H], { backend: m.backend });
    const s = o.scale ?? 1;
    if (editEmbedding && s !== 0) {
      const E = m.model.embed_tokens.weight; // [vocab, hidden]
      E.assign(sub(E, mul(matmul(matmul(E, reshape(r, [H, 1])), reshape(r, [1, H])), s)));
    }
    m.model.layers.forEach((layer, l) => {
      const writers = [['attn', linearWeight(layer.self_attn.o_proj, 'o_proj')], ['mlp', linearWeight(layer.mlp.down_proj, 'down_proj')]] as const;
      for (const [component, W] of writers) {
        const w = layerWeight(l, o, component);
        if (w === 0) continue;
        W.assign(o.normPreserving ? projectOutColumnsKeepingNorms(W, r, w) : projectOutColumns(W, r, w));
      }
    });
  }));
  return m;
}

function linearWeight(p: unknown, name: string): Tensor {
  const w = (p as { weight?: Tensor }).weight;
  if (!w) throw new Error(`abliteration: ${name} is not a plain Linear (merge LoRA adapters first)`);
  return w;
}

/**
 * A second model on the same weight storage (optionally untied: lm_head.weight = the embedding).
 * Sharing is safe: an edit assigns new storage (Tensor.assign) and never writes in place, so editing
 * one model leaves the other as it was.
 */
export function shareWeights(model: LlamaForCausalLM, o: { untie?: boolean } = {}): LlamaForCausalLM {
  const tied = model.config.tieWordEmbeddings && !o.untie;
  const out = new LlamaForCausalLM({ ...model.config, tieWordEmbeddings: tied }, { backend: model.backend });
  const values = new Map(model.namedParameters());
  if (model.config.tieWordEmbeddings && !tied) values.set('lm_head.weight', model.model.embed_tokens.weight);
  out.loadStateDict(values);
  return out;
}

const untie = (model: LlamaForCausalLM) => shareWeights(model, { untie: true });
