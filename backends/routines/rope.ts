// Rotary position embedding, one thread per element (kernels/rope.ts).
import { ropeKernel } from '../../kernels/rope.ts';
import type { Storage } from '../backend.ts';
import { assertSizes, assertStorages, type Routine } from '../routine.ts';

/** Rotary pairing: 'half' rotates (i, i + d/2) (Hugging Face Llama), 'interleaved' (2i, 2i + 1) (GPT-J, llama2.c). */
export type RopeStyle = 'half' | 'interleaved';

/**
 * Rotary embedding of x viewed as [rows, T, D] (rows = product of the leading dims) → same shape.
 * cos/sin hold [tableBlocks · T, rotaryDim / 2] values; row r uses table block
 * floor(r / (rows / tableBlocks)) (1: one table for all rows; B for x [B, H, T, D] with
 * per-sequence positions). With h = rotaryDim / 2 and i < h, pair (a, b) =
 *   'half':        (x[i], x[i + h])      'interleaved': (x[2i], x[2i + 1])
 * becomes (a·cos − b·sin, b·cos + a·sin); features ≥ rotaryDim are copied unchanged.
 */
export const rope: Routine<[x: Storage, cos: Storage, sin: Storage, rows: number, T: number, D: number, rotaryDim: number,
  style: RopeStyle, tableBlocks: number], Storage> = {
  name: 'rope',
  assert(x, cos, sin, rows, T, D, rotaryDim, style, tableBlocks) {
    assertSizes('rope', { rows, T, D, rotaryDim, tableBlocks });
    if (style !== 'half' && style !== 'interleaved') throw new Error(`rope: unknown style '${style}' (half, interleaved)`);
    if (rotaryDim % 2 !== 0 || rotaryDim > D) throw new Error(`rope: rotaryDim ${rotaryDim} must be even and ≤ D = ${D}`);
    if (tableBlocks < 1 || rows % tableBlocks !== 0) throw new Error(`rope: tableBlocks ${tableBlocks} must divide rows ${rows}`);
    const table = [tableBlocks * T, rotaryDim / 2];
    assertStorages('rope', { x: [x, 'f32', [rows, T, D]], cos: [cos, 'f32', table], sin: [sin, 'f32', table] });
  },
  cpu(c, x, cos, sin, rows, T, D, rotaryDim, style, tableBlocks) {
    const xd = c.data(x), cd = c.data(cos), sd = c.data(sin);
    const h = rotaryDim / 2;
    const out = c.alloc(xd.length, 'f32');
    const o = c.data(out);
    const perBlock = rows / tableBlocks;
    // Positions of pair i: 'half' pairs features (i, i + h), 'interleaved' (2i, 2i + 1).
    const [aStep, bOff] = style === 'half' ? [1, h] : [2, 1];
    for (let r = 0; r < rows; r++) {
      const tb = Math.floor(r / perBlock) * T;
      for (let t = 0; t < T; t++) {
        const base = (r * T + t) * D, tab = (tb + t) * h;
        for (let i = 0; i < h; i++) {
          const ia = base + i * aStep, ib = ia + bOff;
          const a = xd[ia], b = xd[ib], cs = cd[tab + i], sn = sd[tab + i];
          o[ia] = a * cs - b * sn;
          o[ib] = b * cs + a * sn;
        }
        for (let j = rotaryDim; j < D; j++) o[base + j] = xd[base + j];
      }
    }
    return out;
  },
  webgpu(g, x, cos, sin, rows, T, D, rotaryDim, style, tableBlocks) {
    const bindings = [g.bind('rope', 'x', x), g.bind('rope', 'cos', cos), g.bind('rope', 'sin', sin)];
    const out = g.alloc(x.size, 'f32', 'rope');
    if (x.size === 0) return out;
    bindings.push(g.bind('rope', 'out', out));
    g.run1d('rope', ropeKernel(style), bindings, { n: x.size, T, D, rd: rotaryDim, perBlock: rows / tableBlocks });
    return out;
  },
};
