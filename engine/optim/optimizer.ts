// Optimizer base: parameters with their state tensors, a step counter, and state (de)serialisation
// for checkpoints. Updates run under noGrad and either point parameters at new storage (assign)
// or update it in place through a fused backend routine (AdamW: backends/routines/adamw.ts, Tensor.writableStorage).
import { noGrad } from '../autodiff.ts';
import { tidy } from '../memory.ts';
import { mul } from '../ops/index.ts';
import type { Tensor } from '../tensor.ts';
import type { Module } from '../nn/module.ts';
import { flattenTree, type ParamTree } from '../nn/param-tree.ts';

export interface ParamGroup { params: Tensor[]; lr: number; weightDecay?: number }

export abstract class Optimizer {
  step_ = 0;
  protected state = new Map<Tensor, Record<string, Tensor>>();

  constructor(readonly params: Tensor[], public lr: number) {
    const seen = new Set<Tensor>();
    for (const p of params) {
      if (seen.has(p)) throw new Error(`optimizer: parameter ${p.describe()} is listed twice`);
      seen.add(p);
      if (p.dtype !== 'f32') throw new Error(`optimizer: parameter ${p.describe()} must be f32`);
    }
  }

  /**
   * Update every parameter that has a gradient, then count the step. `gradScale` ([] tensor, the
   * clip scale of clip.ts gradNormScale) multiplies every gradient first; it stays on the device.
   */
  step(gradScale?: Tensor | null): void {
    this.step_++;
    noGrad(() => tidy(() => {
      for (const p of this.params) {
        if (!p.grad) continue;
        this.updateParam(p, gradScale ? mul(p.grad, gradScale) : p.grad, this.stateFor(p));
      }
    }));
  }

  /**
   * MLX's optimizer.update(model, grads): one step with the gradients in `grads`, a tree keyed like
   * the model's parameters (valueAndGradModel); parameters it has no entry for are left alone.
   */
  update(model: Module, grads: ParamTree): void {
    const params = new Map(model.namedParameters());
    const mine = new Set(this.params);
    const saved = this.params.map((p) => p.grad);
    try {
      for (const p of this.params) p.grad = null;
      for (const [name, g] of flattenTree(grads)) {
        const p = params.get(name);
        if (!p) throw new Error(`optimizer.update: the model has no parameter ${name}`);
        if (!mine.has(p)) throw new Error(`optimizer.update: ${name} is not one of this optimizer's parameters`);
        p.grad = g;
      }
      this.step();
    } finally {
      this.params.forEach((p, i) => { p.grad = saved[i]; });
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  protected abstract init(p: Tensor): Record<string, Tensor>;
  protected abstract updateParam(p: Tensor, g: Tensor, s: Record<string, Tensor>): void;

  protected stateFor(p: Tensor): Record<string, Tensor> {
    let s = this.state.get(p);
    if (!s) {
      s = noGrad(() => this.init(p));
      for (const t of Object.values(s)) t.keep();
      this.state.set(p, s);
    }
    return s;
  }

  /** State tensors by parameter index and slot name (for checkpoints). */
  stateEntries(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    this.params.forEach((p, i) => {
      const s = this.state.get(p);
      if (s) for (const [k, t] of Object.entries(s)) out.push([`${i}.${k}`, t]);
    });
    return out;
  }

  loadStateEntries(entries: Map<string, Tensor>, step: number): void {
    this.step_ = step;
    this.params.forEach((p, i) => {
      const s = this.stateFor(p);
      for (const k of Object.keys(s)) {
        const v = entries.get(`${i}.${k}`);
        if (!v) throw new Error(`optimizer state: missing ${i}.${k} for ${p.describe()}`);
        s[k].assign(v);
      }
    });
  }

  dispose(): void {
    for (const s of this.state.values()) for (const t of Object.values(s)) t.dispose();
    this.state.clear();
  }
}
