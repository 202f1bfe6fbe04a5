// A decoder block on a decoding step (a KV cache, M = B·T ≤ 64 rows) in 4 + 2 dispatches:
//   1 qkv    = rmsNorm(x) · [Wq; Wk; Wv]ᵀ                  fusedProjection, norm folded in
//   2 q      = rope(q); cache[k, v] ← rope(k), v           ropeIntoCache, in place
//   3 o      = attention(q, cache)                           the fused attention, past = cache length
//   4 h      = x + o · Woᵀ                                   fusedProjection, residual added
//   5 a      = silu(rmsNorm(h)·Wgᵀ) ⊙ (rmsNorm(h)·Wuᵀ)       fusedProjection swiglu, norm folded in
//   6 out    = h + a · Wdᵀ                                   fusedProjection, residual added
// (plus a copy of o from [B, H, T, D] to [B, T, H, D] when T > 1). The same ops as the unfused
// block, so outputs agree to rounding. Projections of up to 64 rows (B·T: a GRPO batch of 64
// sequences decodes here) run as row blocks of the few-row GEMV.
// LoRA-wrapped projections take the fused step with their adapter merged into a copy of the frozen
// weight, W + s·B·A (PEFT's merge; what TRL does when it syncs weights to vLLM for sampling): the
// generation makes the copies once (MergedAdapters) and the module's own weights are never written.
// Falls back (null) for what the fused kernels do not cover: biased projections (Qwen2's q/k/v),
// adapters with dropout in training mode or not merged, and more than 64 rows.
import { noGrad } from '../../../engine/autodiff.ts';
import { Linear, type RMSNorm } from '../../../engine/nn/layers.ts';
import { LoRALinear } from '../../../engine/nn/lora.ts';
import { FUSED_PROJECTION_MAX_ROWS, fusedProjection } from '../../../engine/ops/decode.ts';
import { add, matmul, mul, permute, reshape } from '../../../engine/ops/index.ts';
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

/**
 * LoRA adapters merged into copies of their frozen weights, W + s·(B·A) [out, in], for the length
 * of one generation (the adapters do not change while it samples). The copies cost one weight's
 * memory per adapted projection; dispose() frees them. Adapters that are disabled, biased, or
 * apply dropout (training mode) are not merged: their blocks take the unfused path.
 */
export class MergedAdapters {
  private readonly merged = new Map<LoRALinear, { weight: Tensor; scale: number }>();

  /** The adapters of `blocks`' projections, merged; null when there are none to merge. */
  static of(blocks: readonly DecodeBlock[]): MergedAdapters | null {
    const m = new MergedAdapters();
    noGrad(() => {
      for (const blk of blocks) {
        for (const p of projections(blk)) {
          if (!(p instanceof LoRALinear) || !p.enabled || p.base.bias !== null || (p.training && (p.config.dropout ?? 0) > 0)) continue;
          // PEFT's get_delta_weight: (B · A) · scaling, added to the base weight.
          const weight = add(p.base.weight, mul(matmul(p.lora_B, p.lora_A), p.scale)).keep();
          m.merged.set(p, { weight, scale: p.scale });
        }
      }
    });
    if (m.merged.size > 0) return m;
    return null;
  }

  /** The merged weight of an adapter as it stands now (null: not merged, or changed since). */
  weight(p: LoRALinear): Tensor | null {
    const e = this.merged.get(p);
    return e && e.scale === p.scale && !(p.training && (p.config.dropout ?? 0) > 0) ? e.weight : null;
  }

  dispose(): void {
    for (const e of this.merged.values()) e.weight.dispose();
    this.merged.clear();
  }
}

function projections(blk: DecodeBlock): unknown[] {
  const a = blk.self_attn, f = blk.mlp;
  return [a.q_proj, a.k_proj, a.v_proj, a.o_proj, f.gate_proj, f.up_proj, f.down_proj];
}

/** The weight a fused step multiplies by: a bias-free Linear's, a disabled adapter's base, a merged adapter's; else null. */
function projectionWeight(p: unknown, merged: MergedAdapters | null): Tensor | null {
  if (p instanceof LoRALinear) {
    if (!p.enabled) return projectionWeight(p.base, merged);
    return merged?.weight(p) ?? null;
  }
  return p instanceof Linear && p.bias === null ? p.weight : null;
}

/** x [B, T, hidden] → the block's output [B, T, hidden], or null when the fused step does not apply. */
export function fusedDecodeBlock(blk: DecodeBlock, c: LlamaConfig, x: Tensor, layer: number, tables: RopeTables,
  seg: { segQ: Tensor; segK: Tensor } | null, cache: KVCache, merged: MergedAdapters | null = null): Tensor | null {
  const [B, T, hidden] = x.shape;
  const M = B * T;
  if (!decodeFusion.enabled || M > FUSED_PROJECTION_MAX_ROWS) return null;
  const w = projections(blk).map((p) => projectionWeight(p, merged));
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
