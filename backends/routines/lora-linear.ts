// LoRA linear in one pass over x (kernels/lora-linear.ts): x [M, K], w [N, K], bias [N] or null,
// a [r, K] (lora_A), b [N, r] (lora_B) →
//   y [M, N] = x·wᵀ + bias + scale·(x·aᵀ)·bᵀ,  xa [M, r] = x·aᵀ (the backward needs it for d b).
import { loraLinearKernel, type LoraLinearKernel } from '../../kernels/lora-linear.ts';
import { add, input, mul, program } from '../../kernels/expr.ts';
import { matmulDispatch, matmulUniform } from '../../kernels/matmul.ts';
import { usesMma } from '../webgpu/matmul.ts';
import type { Storage, View } from '../backend.ts';
import { assertSizes, assertStorages, f32Bits, type GpuRoutineContext, type Routine } from '../routine.ts';

type Args = [x: Storage, w: Storage, bias: Storage | null, a: Storage, b: Storage, scale: number, M: number, N: number, K: number, r: number];

/** x·wᵀ + bias + scale·(x·aᵀ)·bᵀ as separate products (large r, or N = 0). */
function unfused(g: GpuRoutineContext, ...[x, w, bias, a, b, scale, M, N, K, r]: Args): { y: Storage; xa: Storage } {
  const be = g.backend;
  const mm = (p: Storage, q: Storage, m: number, n: number, k: number) =>
    be.matmul(p, q, { batch: 1, m, n, k, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 });
  const xa = mm(x, a, M, r, K);
  const base = mm(x, w, M, N, K), low = mm(xa, b, M, N, r);
  // y = base + scale·low (+ bias) in one elementwise dispatch.
  let e = add(input(0), mul(input(1), scale));
  const views: View[] = [{ storage: base, offset: 0, strides: [N, 1] }, { storage: low, offset: 0, strides: [N, 1] }];
  if (bias) {
    e = add(e, input(2));
    views.push({ storage: bias, offset: 0, strides: [0, 1] });
  }
  const [y] = be.elementwise(program([e], views.map(() => 'f32')), views, [M, N]);
  be.free(base);
  be.free(low);
  return { y, xa };
}

export const loraLinear: Routine<Args, { y: Storage; xa: Storage }> = {
  name: 'loraLinear',
  assert(x, w, bias, a, b, _scale, M, N, K, r) {
    // The rank and scale were validated where the user set them (LoRALinear, the lora_linear op).
    assertSizes('loraLinear', { M, N, K, r });
    assertStorages('loraLinear', { x: [x, 'f32', [M, K]], w: [w, 'f32', [N, K]], bias: [bias, 'f32', [N]], a: [a, 'f32', [r, K]], b: [b, 'f32', [N, r]] });
  },
  cpu(c, x, w, bias, a, b, scale, M, N, K, r) {
    const xd = c.data(x), wd = c.data(w), bd = bias ? c.data(bias) : null, ad = c.data(a), lb = c.data(b);
    const y = c.alloc(M * N, 'f32'), xa = c.alloc(M * r, 'f32');
    const yd = c.data(y), xad = c.data(xa);
    const xaRow = new Float64Array(r); // unrounded, so y is exact in f64 mode and rounded once in f32
    for (let i = 0; i < M; i++) {
      const xr = i * K;
      for (let j = 0; j < r; j++) {
        let s = 0;
        for (let l = 0; l < K; l++) s += xd[xr + l] * ad[j * K + l];
        xaRow[j] = s;
        xad[i * r + j] = s;
      }
      for (let n = 0; n < N; n++) {
        let base = 0;
        for (let l = 0; l < K; l++) base += xd[xr + l] * wd[n * K + l];
        let low = 0;
        for (let j = 0; j < r; j++) low += xaRow[j] * lb[n * r + j];
        yd[i * N + n] = base + (bd ? bd[n] : 0) + scale * low;
      }
    }
    return { y, xa };
  },
  webgpu(g, x, w, bias, a, b, scale, M, N, K, r) {
    const op = 'loraLinear';
    const bindings = [g.bind(op, 'x', x), g.bind(op, 'w', w)];
    const lb = [g.bind(op, 'a', a), g.bind(op, 'b', b)];
    const biasB = bias ? g.bind(op, 'bias', bias) : null;
    // N = 0 still owes xa, which only N-tile 0 writes: no tiles, so take the unfused path.
    // On the matrix units (matmulPrecision 'f16') the frozen product x·wᵀ is the one worth their speed.
    const mma = usesMma(g, { batch: 1, m: M, n: N, k: K, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 });
    const mk = N === 0 || M === 0 || mma ? null : g.memo<LoraLinearKernel | null>(`lora:${M}:${N}:${K}:${r}:${+(bias !== null)}`,
      () => loraLinearKernel({ m: M, n: N, k: K, r, bias: bias !== null, maxWorkgroupStorage: g.limits.maxComputeWorkgroupStorageSize, tiles: g.tiles?.matmul }));
    if (!mk) return unfused(g, x, w, bias, a, b, scale, M, N, K, r);
    const [gx, gy] = matmulDispatch(mk, M, N, 1);
    if (gx > g.maxWorkgroups || gy > g.maxWorkgroups) {
      throw new Error(`webgpu loraLinear: [${M}, ${N}] output needs ${gy}×${gx} tiles, over the ${g.maxWorkgroups} workgroups per dimension limit`);
    }
    const y = g.alloc(M * N, 'f32', op), xa = g.alloc(M * r, 'f32', op);
    bindings.push(g.bind(op, 'y', y), ...lb, g.bind(op, 'xa', xa));
    if (biasB) bindings.push(biasB);
    const u = matmulUniform({ m: M, n: N, k: K, aBatchStride: 0, bBatchStride: 0, batchOffset: 0 });
    u[6] = r;
    u[7] = f32Bits(scale);
    g.dispatch(op, mk, bindings, u, [gx, gy, 1]);
    return { y, xa };
  },
};
