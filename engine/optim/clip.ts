// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): scale every gradient by
// max_norm / (total_norm + 1e-6) when the total L2 norm exceeds max_norm. Returns the norm (a tensor,
// so the caller decides when to read it back).
import { noGrad } from '../autodiff.ts';
import { tidy } from '../memory.ts';
import { add, div, minimum, mul, sqrt, sum } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';

export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  return noGrad(() => tidy(() => {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => !!g);
    if (!grads.length) throw new Error('clipGradNorm: no parameter has a gradient');
    let sq = sum(mul(grads[0], grads[0]));
    for (const g of grads.slice(1)) sq = add(sq, sum(mul(g, g)));
    const norm = sqrt(sq);
    if (Number.isFinite(maxNorm)) {
      const scale = minimum(div(maxNorm, add(norm, 1e-6)), 1);
      for (const p of params) if (p.grad) p.grad.assign(mul(p.grad, scale));
    }
    return norm;
  }));
}
