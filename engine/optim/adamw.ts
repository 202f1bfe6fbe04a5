// AdamW (Loshchilov & Hutter), PyTorch's formulation: decoupled decay p ← p·(1 − lr·wd), then
// p ← p − lr · m̂ / (√v̂ + eps) with bias-corrected moments. One fused backend primitive per
// parameter updates p, m and v in place (Backend.adamw); a parameter whose storage a view shares
// is first moved to a private copy (Tensor.writableStorage), so the view keeps the old values.
import { zeros } from '../ops/index.ts';
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
    if (g.backend !== p.backend) throw new Error(`AdamW: gradient of ${p.describe()} lives on another backend`);
    if (g.dtype !== 'f32' || g.size !== p.size) throw new Error(`AdamW: gradient ${g.describe()} does not match ${p.describe()}`);
    p.backend.adamw(p.writableStorage(), g.storage, s.exp_avg.writableStorage(), s.exp_avg_sq.writableStorage(), {
      lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.step_,
    });
  }
}
