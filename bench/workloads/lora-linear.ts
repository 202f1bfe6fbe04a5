// One LoRA linear layer, forward + backward, f32: y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with W frozen,
//   x [N, in], W [out, in], A [r, in], B [out, r]  →  y [N, out]; then dx, dA, dB from dy.
// FLOPs: forward 2·N·(in·out + in·r + r·out); backward 2·N·in·out (dx through W) + 4·N·r·(in + out)
// (dA, dB and dx through the adapter). Bytes: x, W, A, B, dy read; y, dx, dA, dB written.
import { tensor } from '../../engine/ops/index.ts';
import { Linear } from '../../engine/nn/layers.ts';
import { LoRALinear } from '../../engine/nn/lora.ts';
import { Generator } from '../../engine/random.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { randomValues, tensorRun, type Workload } from '../workload.ts';

/** The forward this workload times. The fused loraLinear op replaces this one line when it lands. */
export function loraForward(layer: LoRALinear, x: Tensor): Tensor {
  return layer.forward(x);
}
const IMPL = 'engine/nn/lora.ts LoRALinear: fused loraLinear kernel (base matmul + low-rank update in one pass over x) + autodiff';

export function loraLinearWorkload(tokens: number, inF: number, outF: number, r: number): Workload {
  const N = tokens;
  const fwd = 2 * N * (inF * outF + inF * r + r * outF);
  const bwd = 2 * N * inF * outF + 4 * N * r * (inF + outF);
  return {
    id: `lora_linear_fwd_bwd_n${N}i${inF}o${outF}r${r}`, suite: 'kernels', op: 'lora_linear_fwd_bwd', dtype: 'f32',
    shape: { tokens: N, in: inF, out: outF, rank: r }, flops: fwd + bwd,
    bytes: 4 * (2 * N * inF + inF * outF + 2 * r * inF + 2 * outF * r + 2 * N * outF), impl: IMPL, tolerance: 1e-5,
    build(backend) {
      const base = new Linear(inF, outF, { backend });
      base.weight.assign(tensor(randomValues(outF * inF, 91, 1 / Math.sqrt(inF)), [outF, inF], { backend }));
      const layer = new LoRALinear(base, { r, alpha: 2 * r }, { generator: new Generator(92), backend });
      // B starts at zero in training; random here so that dA is not trivially zero.
      layer.lora_B.assign(tensor(randomValues(outF * r, 93, 0.1), [outF, r], { backend }));
      layer.lora_A.assign(tensor(randomValues(r * inF, 94, 1 / Math.sqrt(inF)), [r, inF], { backend }));
      const x = tensor(randomValues(N * inF, 95), [N, inF], { backend });
      x.requiresGrad = true;
      const dy = tensor(randomValues(N * outF, 96), [N, outF], { backend });
      const run = (): Tensor[] => {
        const y = loraForward(layer, x);
        y.backward(dy);
        const gs = [x, layer.lora_A, layer.lora_B].map((t) => { const g = t.grad!; t.grad = null; return g; });
        return [y, ...gs];
      };
      return {
        ...tensorRun(run),
        dispose: () => { layer.dispose(); x.dispose(); dy.dispose(); },
      };
    },
    small: () => loraLinearWorkload(5, 19, 13, 4),
  };
}
