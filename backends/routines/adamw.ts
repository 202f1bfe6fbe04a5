// One fused AdamW step (PyTorch's AdamW) over contiguous f32 storages of equal size, updating
// p, m and v IN PLACE (kernels/adamw.ts); g is only read:
//   p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
//   p ← p − (lr / c1)·m / (√v / √c2 + eps),  c1 = 1 − β1^step, c2 = 1 − β2^step.
import { adamwKernel } from '../../kernels/adamw.ts';
import type { Storage } from '../backend.ts';
import { assertStorages, f32Bits, type Routine } from '../routine.ts';

/** Hyperparameters of one step (`step` counts from 1); the optimizer validated them. */
export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

/** The per-step scalars of the update, computed in float64 on the host. */
function adamwScalars(o: AdamWParams) {
  const c1 = 1 - Math.pow(o.beta1, o.step), c2 = 1 - Math.pow(o.beta2, o.step);
  return { decay: 1 - o.lr * o.weightDecay, stepSize: o.lr / c1, sqrtC2: Math.sqrt(c2) };
}

export const adamw: Routine<[p: Storage, g: Storage, m: Storage, v: Storage, o: AdamWParams], void> = {
  name: 'adamw',
  assert(p, g, m, v) {
    assertStorages('adamw', { p: [p, 'f32', [p.size]], g: [g, 'f32', [p.size]], m: [m, 'f32', [p.size]], v: [v, 'f32', [p.size]] });
    // In-place update: a storage given twice would read values the step already overwrote.
    if (new Set([p, g, m, v]).size !== 4) throw new Error('adamw: p, g, m and v must be four distinct storages');
  },
  cpu(c, p, g, m, v, o) {
    const pd = c.data(p), gd = c.data(g), md = c.data(m), vd = c.data(v);
    const { decay, stepSize, sqrtC2 } = adamwScalars(o);
    const { beta1: b1, beta2: b2, eps } = o;
    for (let i = 0; i < pd.length; i++) {
      const gi = gd[i];
      const mi = b1 * md[i] + (1 - b1) * gi;
      const vi = b2 * vd[i] + (1 - b2) * gi * gi;
      md[i] = mi;
      vd[i] = vi;
      pd[i] = pd[i] * decay - stepSize * mi / (Math.sqrt(vi) / sqrtC2 + eps);
    }
  },
  webgpu(gpu, p, g, m, v, o) {
    const bindings = [gpu.bind('adamw', 'p', p), gpu.bind('adamw', 'g', g), gpu.bind('adamw', 'm', m), gpu.bind('adamw', 'v', v)];
    if (p.size === 0) return;
    const { decay, stepSize, sqrtC2 } = adamwScalars(o);
    const vec4 = p.size % 4 === 0;
    // Dispatches run in recording order, each seeing the writes of the ones before (as copyInto).
    gpu.run1d('adamw', adamwKernel(vec4), bindings, {
      n: vec4 ? p.size / 4 : p.size, decay: f32Bits(decay), stepSize: f32Bits(stepSize), b1: f32Bits(o.beta1), omb1: f32Bits(1 - o.beta1),
      b2: f32Bits(o.beta2), omb2: f32Bits(1 - o.beta2), eps: f32Bits(o.eps), sqrtC2: f32Bits(sqrtC2),
    });
  },
};
