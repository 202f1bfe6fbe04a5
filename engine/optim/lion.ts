// Lion (Chen et al. 2023): p ← p·(1 − lr·wd) − lr·sign(β1·m + (1−β1)·g); m ← β2·m + (1−β2)·g.
import { add, mul, sign, sub, zeros } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import { Optimizer } from './optimizer.ts';

export interface LionOpts { lr?: number; betas?: [number, number]; weightDecay?: number }

export class Lion extends Optimizer {
  readonly beta1: number; readonly beta2: number; readonly weightDecay: number;
  constructor(params: Tensor[], opts: LionOpts = {}) {
    super(params, opts.lr ?? 1e-4);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.99];
    this.weightDecay = opts.weightDecay ?? 0;
  }
  protected init(p: Tensor) { return { exp_avg: zeros(p.shape, { backend: p.backend }) }; }
  protected updateParam(p: Tensor, g: Tensor, s: Record<string, Tensor>): void {
    const dir = sign(add(mul(s.exp_avg, this.beta1), mul(g, 1 - this.beta1)));
    const decayed = this.weightDecay ? mul(p, 1 - this.lr * this.weightDecay) : p;
    p.assign(sub(decayed, mul(dir, this.lr)));
    s.exp_avg.assign(add(mul(s.exp_avg, this.beta2), mul(g, 1 - this.beta2)));
  }
}
