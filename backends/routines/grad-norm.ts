// The global L2 norm of many gradients and the clip scale min(maxNorm / (norm + 1e-6), 1)
// (torch.nn.utils.clip_grad_norm_), both left on the device (kernels/grad-norm.ts):
//   gradNormScale(g[], maxNorm) → { norm: f32 [1], scale: f32 [1] }; maxNorm = ∞ gives scale 1.
// The scale feeds the optimizer's multi-tensor step (routines/adamw.ts adamwMulti); the norm is
// read back by the caller when it wants (one step late in the Trainer).
import { normScaleKernel, sumSquaresKernel } from '../../kernels/grad-norm.ts';
import type { Storage } from '../backend.ts';
import { assertStorages, f32Bits, type Routine } from '../routine.ts';

/** Gradients per partial-sum dispatch at most (kernel variants are compiled per count). */
const MAX_GROUP = 16;
/** Workgroups per partial-sum dispatch at most: bounds the partials the final kernel sums. */
const MAX_WORKGROUPS = 256;

export const gradNormScale: Routine<[g: Storage[], maxNorm: number], { norm: Storage; scale: Storage }> = {
  name: 'gradNormScale',
  assert(g, maxNorm) {
    if (!g.length) throw new Error('gradNormScale: no gradients');
    g.forEach((s, j) => assertStorages('gradNormScale', { [`g[${j}]`]: [s, 'f32', [s.size]] }));
    if (!(maxNorm > 0)) throw new Error(`gradNormScale: maxNorm ${maxNorm} must be positive (Infinity: no clipping)`);
  },
  cpu(c, g, maxNorm) {
    let sq = 0; // float64, in tensor order
    for (const s of g) for (const x of c.data(s)) sq += x * x;
    const norm = c.alloc(1, 'f32'), scale = c.alloc(1, 'f32');
    const n = c.data(norm);
    n[0] = Math.sqrt(sq);
    c.data(scale)[0] = Number.isFinite(maxNorm) ? Math.min(maxNorm / (n[0] + 1e-6), 1) : 1;
    return { norm, scale };
  },
  webgpu(gpu, g, maxNorm) {
    // Each partial-sum dispatch binds up to L − 1 gradients and the partials (15 on NVIDIA's 16).
    const K = Math.max(1, Math.min(MAX_GROUP, gpu.limits.maxStorageBuffersPerShaderStage - 1));
    const groups: { js: number[]; workgroups: number }[] = [];
    let count = 0;
    for (let at = 0; at < g.length; at += K) {
      const js = g.map((_, j) => j).slice(at, at + K);
      const workgroups = Math.max(1, Math.min(MAX_WORKGROUPS, Math.ceil(Math.max(...js.map((j) => g[j].size)) / 256)));
      groups.push({ js, workgroups });
      count += workgroups;
    }
    const partial = gpu.alloc(count, 'f32', 'gradNormScale');
    const pb = gpu.bind('gradNormScale', 'partial', partial);
    let base = 0;
    for (const { js, workgroups } of groups) {
      const values: Record<string, number> = { base };
      js.forEach((j, i) => { values[`len${i}`] = g[j].size; });
      const bindings = js.map((j) => gpu.bind('gradNormScale', `g[${j}]`, g[j]));
      gpu.runGrid('gradNormScale', gpu.memo(`grad-sumsq:${js.length}`, () => sumSquaresKernel(js.length)), [...bindings, pb], values, workgroups);
      base += workgroups;
    }
    const norm = gpu.alloc(1, 'f32', 'gradNormScale'), scale = gpu.alloc(1, 'f32', 'gradNormScale');
    const finite = Number.isFinite(maxNorm);
    gpu.runGrid('gradNormScale', gpu.memo('grad-norm-scale', normScaleKernel), [pb, gpu.bind('gradNormScale', 'norm', norm), gpu.bind('gradNormScale', 'scale', scale)],
      { count, maxNorm: f32Bits(finite ? maxNorm : 0), unclipped: finite ? 0 : 1 }, 1);
    gpu.backend.free(partial); // recorded work keeps its buffer until submitted (the pool reuses it in order)
    return { norm, scale };
  },
};
