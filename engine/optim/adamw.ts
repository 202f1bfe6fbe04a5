// AdamW (Loshchilov & Hutter), PyTorch's formulation: decoupled decay p ← p·(1 − lr·wd), then
// p ← p − lr · m̂ / (√v̂ + eps) with bias-corrected moments. step() updates every parameter, its
// moments in place through one multi-tensor backend routine (backends/routines/adamw.ts
// adamwMulti: a few tensors per dispatch on WebGPU), optionally multiplying every gradient by a
// clip scale that stays on the device (clip.ts gradNormScale). A parameter whose storage a view
// shares is first moved to a private copy (Tensor.writableStorage), so the view keeps the old values.
import * as routines from '../../backends/routines/index.ts';
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
    // Checked here, once: the fused step (backends/routines/adamw.ts) takes them as given.
    for (const [k, v] of [['lr', this.lr], ['eps', this.eps], ['weightDecay', this.weightDecay]] as const) {
      if (!Number.isFinite(v)) throw new Error(`AdamW: ${k} ${v} must be a finite number`);
    }
    if (!(this.beta1 >= 0 && this.beta1 < 1) || !(this.beta2 >= 0 && this.beta2 < 1)) {
      throw new Error(`AdamW: betas (${this.beta1}, ${this.beta2}) must lie in [0, 1)`);
    }
  }

  protected init(p: Tensor) {
    return { exp_avg: zeros(p.shape, { backend: p.backend }), exp_avg_sq: zeros(p.shape, { backend: p.backend }) };
  }

  /** One multi-tensor update of every parameter with a gradient (see routines/adamw.ts adamwMulti). */
  override step(gradScale?: Tensor | null): void {
    const live = this.params.filter((p) => p.grad);
    this.step_++;
    if (!live.length) return;
    const backend = live[0].backend;
    for (const p of live) {
      const g = p.grad!;
      if (p.backend !== backend || g.backend !== backend) throw new Error(`AdamW: ${p.describe()} or its gradient lives on another backend`);
      if (g.dtype !== 'f32' || g.size !== p.size) throw new Error(`AdamW: gradient ${g.describe()} does not match ${p.describe()}`);
    }
    if (gradScale && (gradScale.backend !== backend || gradScale.size !== 1 || gradScale.dtype !== 'f32')) {
      throw new Error(`AdamW: the gradient scale must be one f32 value on the parameters' backend, got ${gradScale.describe()}`);
    }
    const states = live.map((p) => this.stateFor(p));
    backend.run(routines.adamwMulti, live.map((p) => p.writableStorage()), live.map((p) => p.grad!.storage),
      states.map((s) => s.exp_avg.writableStorage()), states.map((s) => s.exp_avg_sq.writableStorage()), gradScale ? gradScale.storage : null, {
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.step_,
      });
  }

  /** The per-tensor update (one dispatch per parameter), kept as the reference the multi-tensor step is tested against. */
  protected updateParam(p: Tensor, g: Tensor, s: Record<string, Tensor>): void {
    if (g.backend !== p.backend) throw new Error(`AdamW: gradient of ${p.describe()} lives on another backend`);
    if (g.dtype !== 'f32' || g.size !== p.size) throw new Error(`AdamW: gradient ${g.describe()} does not match ${p.describe()}`);
    p.backend.run(routines.adamw, p.writableStorage(), g.storage, s.exp_avg.writableStorage(), s.exp_avg_sq.writableStorage(), {
      lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.step_,
    });
  }
}
