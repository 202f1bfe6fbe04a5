// One fused AdamW step (PyTorch's AdamW) over contiguous f32 storages of equal size, updating
// p, m and v IN PLACE (kernels/adamw.ts); g is only read:
//   p ← p·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;
//   p ← p − (lr / c1)·m / (√v / √c2 + eps),  c1 = 1 − β1^step, c2 = 1 − β2^step.
import { adamwKernel, adamwMultiKernel } from '../../kernels/adamw.ts';
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

/** Tensors per multi-tensor dispatch at most (kernel variants are compiled per count). */
const MAX_GROUP = 8;

/**
 * AdamW over many tensors (the optimizer's whole parameter list), the same update as `adamw` on
 * each (p[j], g[j], m[j], v[j]), with every gradient first multiplied by scale[0] when a scale
 * storage is given (the clip scale of routines/grad-norm.ts, left on the device). Updates p, m and v
 * in place. On WebGPU tensors go K to a dispatch, K = ⌊(maxStorageBuffersPerShaderStage − 1) / 4⌋
 * (4 bindings per tensor; 3 on the 16 buffers NVIDIA's adapter gives, 2 on SwiftShader's 12), so
 * 240 LoRA tensors take 80 dispatches instead of 240 (plus the clip's ~4 per tensor before).
 * Why not ONE dispatch: WebGPU has no binding arrays, so one dispatch over all tensors needs the
 * parameters, gradients and moments each in one flat buffer with the tensors as views at offsets;
 * a Storage here is a whole buffer bound from offset 0 and backward makes each gradient its own
 * storage, so that would change the engine's Tensor and every kernel's binding (a later step).
 */
export const adamwMulti: Routine<[p: Storage[], g: Storage[], m: Storage[], v: Storage[], scale: Storage | null, o: AdamWParams], void> = {
  name: 'adamwMulti',
  assert(p, g, m, v, scale) {
    if (g.length !== p.length || m.length !== p.length || v.length !== p.length) {
      throw new Error(`adamwMulti: ${p.length} parameters, ${g.length} gradients, ${m.length} and ${v.length} moments`);
    }
    p.forEach((_, j) => adamw.assert(p[j], g[j], m[j], v[j], null as unknown as AdamWParams));
    const all = [...p, ...m, ...v];
    if (new Set(all).size !== all.length) throw new Error('adamwMulti: a parameter or moment storage is given twice');
    if (scale) assertStorages('adamwMulti', { scale: [scale, 'f32', [1]] });
  },
  cpu(c, p, g, m, v, scale, o) {
    // The clip multiply the composed path made: an f32 product, rounded as an f32 storage would.
    const s = scale ? c.data(scale)[0] : 1;
    const round = c.precision === 'f32' ? Math.fround : (x: number) => x;
    const { decay, stepSize, sqrtC2 } = adamwScalars(o);
    const { beta1: b1, beta2: b2, eps } = o;
    for (let j = 0; j < p.length; j++) {
      const pd = c.data(p[j]), gd = c.data(g[j]), md = c.data(m[j]), vd = c.data(v[j]);
      for (let i = 0; i < pd.length; i++) {
        const gi = scale ? round(gd[i] * s) : gd[i];
        const mi = b1 * md[i] + (1 - b1) * gi;
        const vi = b2 * vd[i] + (1 - b2) * gi * gi;
        md[i] = mi;
        vd[i] = vi;
        pd[i] = pd[i] * decay - stepSize * mi / (Math.sqrt(vi) / sqrtC2 + eps);
      }
    }
  },
  webgpu(gpu, p, g, m, v, scale, o) {
    const K = Math.max(1, Math.min(MAX_GROUP, Math.floor((gpu.limits.maxStorageBuffersPerShaderStage - (scale ? 1 : 0)) / 4)));
    const { decay, stepSize, sqrtC2 } = adamwScalars(o);
    const hyper = {
      decay: f32Bits(decay), stepSize: f32Bits(stepSize), b1: f32Bits(o.beta1), omb1: f32Bits(1 - o.beta1),
      b2: f32Bits(o.beta2), omb2: f32Bits(1 - o.beta2), eps: f32Bits(o.eps), sqrtC2: f32Bits(sqrtC2),
    };
    const sBinding = scale ? gpu.bind('adamwMulti', 'scale', scale) : null;
    const live = p.map((_, j) => j).filter((j) => p[j].size > 0);
    for (let at = 0; at < live.length; at += K) {
      const group = live.slice(at, at + K);
      const bindings = group.flatMap((j) => [
        gpu.bind('adamwMulti', `p[${j}]`, p[j]), gpu.bind('adamwMulti', `g[${j}]`, g[j]),
        gpu.bind('adamwMulti', `m[${j}]`, m[j]), gpu.bind('adamwMulti', `v[${j}]`, v[j]),
      ]);
      if (sBinding) bindings.push(sBinding);
      const values: Record<string, number> = { ...hyper };
      group.forEach((j, i) => { values[`len${i}`] = p[j].size; });
      const kernel = gpu.memo(`adamw-multi:${group.length}:${scale ? 's' : ''}`, () => adamwMultiKernel(group.length, !!scale));
      // Enough threads for one pass over the longest tensor, at most 4096 workgroups (then loops).
      const longest = Math.max(...group.map((j) => p[j].size));
      gpu.runGrid('adamwMulti', kernel, bindings, values, Math.min(4096, Math.ceil(longest / kernel.workgroupSize)));
    }
  },
};
