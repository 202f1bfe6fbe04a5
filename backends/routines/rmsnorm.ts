// RMSNorm over the last axis in one pass per row (kernels/rmsnorm.ts).
import { rmsNormKernel } from '../../kernels/rmsnorm.ts';
import { rowWorkgroupSize } from '../../kernels/rowstats.ts';
import type { Storage } from '../backend.ts';
import { assertSizes, assertStorages, f32Bits, type Routine } from '../routine.ts';

/** x [rows, cols], weight [cols] or null (1) → y[r, c] = x[r, c] · rsqrt(mean_c x[r, :]² + eps) · w[c], f32. */
export const rmsNorm: Routine<[x: Storage, weight: Storage | null, rows: number, cols: number, eps: number], Storage> = {
  name: 'rmsNorm',
  assert(x, weight, rows, cols) {
    assertSizes('rmsNorm', { rows, cols });
    assertStorages('rmsNorm', { x: [x, 'f32', [rows, cols]], weight: [weight, 'f32', [cols]] });
  },
  cpu(c, x, weight, rows, cols, eps) {
    const xd = c.data(x), wd = weight ? c.data(weight) : null;
    const out = c.alloc(rows * cols, 'f32');
    const o = c.data(out);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let ss = 0;
      for (let j = 0; j < cols; j++) ss += xd[base + j] * xd[base + j];
      const inv = 1 / Math.sqrt(ss / cols + eps);
      for (let j = 0; j < cols; j++) o[base + j] = xd[base + j] * inv * (wd ? wd[j] : 1);
    }
    return out;
  },
  webgpu(g, x, weight, rows, cols, eps) {
    const bindings = [g.bind('rmsNorm', 'x', x)];
    if (weight) bindings.push(g.bind('rmsNorm', 'weight', weight));
    const out = g.alloc(rows * cols, 'f32', 'rmsNorm');
    if (rows * cols === 0) return out;
    bindings.push(g.bind('rmsNorm', 'out', out));
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    g.runGrid('rmsNorm', rmsNormKernel(rowWorkgroupSize(units), weight !== null, vec4), bindings,
      { rows, cols: units, n: cols, eps: f32Bits(eps) }, rows);
    return out;
  },
};
