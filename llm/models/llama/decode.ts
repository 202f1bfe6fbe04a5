// A decoder block on a decoding step (a KV cache, M = B·T ≤ 16 rows) in 4 + 2 dispatches:
//   1 qkv    = rmsNorm(x) · [Wq; Wk; Wv]ᵀ                  fusedProjection, norm folded in
//   2 q      = rope(q); cache[k, v] ← rope(k), v           ropeIntoCache, in place
//   3 o      = attention(q, cache)                           the fused attention, past = cache length
//   4 h      = x + o · Woᵀ                                   fusedProjection, residual added
//   5 a      = silu(rmsNorm(h)·Wgᵀ) ⊙ (rmsNorm(h)·Wuᵀ)       fusedProjection swiglu, norm folded in
//   6 out    = h + a · Wdᵀ                                   fusedProjection, residual added
// (plus a copy of o from [B, H, T, D] to [B, T, H, D] when T > 1). The same ops as the unfused
// block, so outputs agree to rounding. Falls back (null) for what the fused kernels do not cover:
// projections that are not bias-free Linears (LoRA, Qwen2's q/k/v bias) and more than 16 rows.
import { Linear, type RMSNorm } from '../../../engine/nn/layers.ts';
import { FUSED_PROJECTION_MAX_ROWS, fusedProjection } from '../../../engine/ops/decode.ts';
import { permute, reshape } from '../../../engine/ops/index.ts';
import type { RopeTables } from '../../../engine/ops/nn.ts';
import type { Tensor } from '../../../engine/tensor.ts';
import type { LlamaConfig } from './config.ts';
import type { KVCache } from './kv-cache.ts';

/** Off: every step takes the unfused block (tests and the ablation benchmark compare the two). */
export const decodeFusion = { enabled: true };

/** The parts of a decoder block the fused step reads (model.ts DecoderLayer). */
export interface DecodeBlock {
  self_attn: { q_proj: unknown; k_proj: unknown; v_proj: unknown; o_proj: unknown };
  mlp: { gate_proj: unknown; up_proj: unknown; down_proj: unknown };
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;
}

/** The weight of a bias-free Linear, else null. */
function plainWeight(p: unknown): Tensor | null {
  return p instanceof Linear && p.bias === null ? p.weight : null;
}

/** x [B, T, hidden] → the block's output [B, T, hidden], or null when the fused step does not apply. */
export function fusedDecodeBlock(blk: DecodeBlock, c: LlamaConfig, x: Tensor, layer: number, tables: RopeTables,
  seg: { segQ: Tensor; segK: Tensor } | null, cache: KVCache): Tensor | null {
  const [B, T, hidden] = x.shape;
  const M = B * T;
  if (!decodeFusion.enabled || M > FUSED_PROJECTION_MAX_ROWS) return null;
  const a = blk.self_attn, f = blk.mlp;
  const w = [a.q_proj, a.k_proj, a.v_proj, a.o_proj, f.gate_proj, f.up_proj, f.down_proj].map(plainWeight);
  if (w.some((t) => t === null)) return null;
  const [wq, wk, wv, wo, wg, wu, wd] = w as Tensor[];
  const { numHeads: H, numKvHeads: KV, headDim: D } = c;
  const x2 = reshape(x, [M, hidden]);
  const n1 = blk.input_layernorm, n2 = blk.post_attention_layernorm;
  const qkv = fusedProjection(x2, [wq, wk, wv], { norm: { weight: n1.weight, eps: n1.eps } }); // [M, (H + 2·KV)·D]
  const width = (H + 2 * KV) * D;
  const rows = (offset: number) => ({ t: qkv, layout: { stride: width, offset } });
  const q = cache.write(layer, rows(0), rows(H * D), rows((H + KV) * D), tables, H); // [B, H, T, D]
  const o = cache.attend(layer, q, seg); // [B, H, T, D]
  const o2 = reshape(T === 1 ? o : permute(o, [0, 2, 1, 3]), [M, H * D]); // T = 1: [B, H, 1, D] is [B, 1, H, D]
  const h = fusedProjection(o2, [wo], { residual: x2 });
  const act = fusedProjection(h, [wg, wu], { norm: { weight: n2.weight, eps: n2.eps }, mode: 'swiglu' });
  return reshape(fusedProjection(act, [wd], { residual: h }), [B, T, hidden]);
}
