// Causal self-attention over q, k, v [B, H, T, D], f32, forward and forward + backward.
// FLOPs (the FlashAttention convention): forward 4·B·H·T²·D halved for the causal mask; backward
// 2.5× the forward. Bytes: forward q, k, v read and o written (4 · 4·B·H·T·D); backward adds dO
// read and dq, dk, dv written (another 4 · 4·B·H·T·D): what a fused kernel needs, not what the
// unfused ops below move.
import { scaledDotProductAttention, tensor } from '../../engine/ops/index.ts';
import type { Backend } from '../../backends/backend.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { randomValues, tensorRun, type Workload } from '../workload.ts';

/** The attention this workload times: the fused causal kernel (engine/ops/attention.ts). */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  return scaledDotProductAttention(q, k, v);
}
const IMPL = 'fused causal attention (FlashAttention-2 style WGSL forward, dK/dV and dQ backward kernels)';

function inputs(backend: Backend, B: number, H: number, T: number, D: number, grad: boolean) {
  const n = B * H * T * D;
  const mk = (seed: number) => {
    const t = tensor(randomValues(n, seed), [B, H, T, D], { backend });
    t.requiresGrad = grad;
    return t;
  };
  return { q: mk(81), k: mk(82), v: mk(83), dO: tensor(randomValues(n, 84), [B, H, T, D], { backend }) };
}

export function attentionWorkload(B: number, H: number, T: number, D: number, backward: boolean): Workload {
  const fwdFlops = (4 * B * H * T * T * D) / 2;
  const io = 4 * B * H * T * D;
  const op = backward ? 'attention_fwd_bwd' : 'attention_fwd';
  return {
    id: `${op}_b${B}h${H}t${T}d${D}`, suite: 'kernels', op, dtype: 'f32', shape: { batch: B, heads: H, seq: T, headDim: D },
    flops: backward ? 3.5 * fwdFlops : fwdFlops, bytes: backward ? 8 * io : 4 * io, impl: IMPL, tolerance: 1e-5,
    build(backend) {
      const x = inputs(backend, B, H, T, D, backward);
      const run = (): Tensor[] => {
        const o = causalAttention(x.q, x.k, x.v);
        if (!backward) return [o];
        o.backward(x.dO);
        const gs = [x.q, x.k, x.v].map((t) => { const g = t.grad!; t.grad = null; return g; });
        return [o, ...gs];
      };
      return {
        ...tensorRun(run),
        dispose: () => { for (const t of Object.values(x)) t.dispose(); },
      };
    },
    small: () => attentionWorkload(1, 2, 9, 8, backward),
  };
}
