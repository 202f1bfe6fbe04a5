// SGD with momentum (PyTorch semantics: buf ← μ·buf + g (dampening 0), Nesterov optional) and
// L2 weight decay added to the gradient.
import { add, mul, sub } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import { Optimizer } from './optimizer.ts';

export interface SGDOpts { lr?: number; momentum?: number; nesterov?: boolean; weightDecay?: number }

export class SGD extends Optimizer {
  readonly momentum: number; readonly nesterov: boolean; readonly weightDecay: number;
  constructor(params: Tensor[], opts: SGDOpts = {}) {
    super(params, opts.lr ?? 1e-2);
    this.momentum = opts.momentum ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
  }
  protected init(p: Tensor): Record<string, Tensor> {
    return this.momentum ? { momentum_buffer: mul(p, 0) } : {};
  }
  protected updateParam(p: Tensor, g0: Tensor, s: Record<string, Tensor>): void {
    let g = this.weightDecay ? add(g0, mul(p, this.weightDecay)) : g0;
    if (this.momentum) {
      // PyTorch initialises the buffer with the first gradient.
      const buf = this.step_ === 1 ? g : add(mul(s.momentum_buffer, this.momentum), g);
      s.momentum_buffer.assign(buf);
      g = this.nesterov ? add(g, mul(buf, this.momentum)) : buf;
    }
    p.assign(sub(p, mul(g, this.lr)));
  }
}
