// AdamW (Loshchilov & Hutter), PyTorch's formulation: decoupled decay p ← p·(1 − lr·wd), then
// p ← p − lr · m̂ / (√v̂ + eps) with bias-corrected moments.
import { add, div, mul, sqrt, sub, zeros } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import { Optimizer } from './optimizer.ts';

export interface AdamWOpts { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number }

export class AdamW extends Optimizer {
  readonly beta1: number; readonly beta2: number; readonly eps: number; weightDecay: number;

  constructor(params: Tensor[], opts: AdamWOpts = {}) {
    super(params, opts.lr ?? 1e-3);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  protected init(p: Tensor) {
    return { exp_avg: zeros(p.shape, { backend: p.backend }), exp_avg_sq: zeros(p.shape, { backend: p.backend }) };
  }

  protected update(p: Tensor, g: Tensor, s: Record<string, Tensor>): void {
    const t = this.step_;
    const m = add(mul(s.exp_avg, this.beta1), mul(g, 1 - this.beta1));
    const v = add(mul(s.exp_avg_sq, this.beta2), mul(mul(g, g), 1 - this.beta2));
    const c1 = 1 - Math.pow(this.beta1, t), c2 = 1 - Math.pow(this.beta2, t);
    // lr·m̂/(√v̂ + eps) = (lr/c1)·m / (√v/√c2 + eps)
    const upd = div(mul(m, this.lr / c1), add(div(sqrt(v), Math.sqrt(c2)), this.eps));
    const decayed = this.weightDecay ? mul(p, 1 - this.lr * this.weightDecay) : p;
    p.assign(sub(decayed, upd));
    s.exp_avg.assign(m);
    s.exp_avg_sq.assign(v);
  }
}
