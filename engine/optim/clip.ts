// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): scale every gradient by
// max_norm / (total_norm + 1e-6) when the total L2 norm exceeds max_norm. The norm and the scale
// are computed on the device by one multi-tensor routine (backends/routines/grad-norm.ts) and stay
// there: `clipGradNorm` applies the scale to the gradients; `gradNormScale` hands it to the
// optimizer instead (`optimizer.step(scale)`), whose fused AdamW step multiplies each gradient by it
// as it reads it — no extra pass over the gradients and no readback.
import * as routines from '../../backends/routines/index.ts';
import { noGrad } from '../autodiff.ts';
import { tidy } from '../memory.ts';
import { mul } from '../ops/index.ts';
import { wrap } from '../ops/create.ts';
import type { Tensor } from '../tensor.ts';

/** The gradients' global L2 norm and the clip scale (1 when maxNorm is ∞), as [] tensors on the device. */
export function gradNormScale(params: Tensor[], maxNorm: number): { norm: Tensor; scale: Tensor } {
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => !!g);
  if (!grads.length) throw new Error('clipGradNorm: no parameter has a gradient');
  const backend = grads[0].backend;
  for (const g of grads) {
    if (g.backend !== backend) throw new Error(`clipGradNorm: gradient ${g.describe()} lives on another backend`);
    if (g.dtype !== 'f32') throw new Error(`clipGradNorm: gradient ${g.describe()} must be f32`);
  }
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm ${maxNorm} must be positive (Infinity measures the norm without clipping)`);
  const { norm, scale } = backend.run(routines.gradNormScale, grads.map((g) => g.storage), maxNorm);
  return { norm: wrap(norm, []), scale: wrap(scale, []) };
}

/** Scale the gradients in place (one multiply each) and return the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  return noGrad(() => tidy(() => {
    const { norm, scale } = gradNormScale(params, maxNorm);
    if (Number.isFinite(maxNorm)) for (const p of params) if (p.grad) p.grad.assign(mul(p.grad, scale));
    return norm;
  }));
}
