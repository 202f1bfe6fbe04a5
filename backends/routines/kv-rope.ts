// Rope of q and k plus the in-place write of k and v into a preallocated KV cache, one dispatch per
// layer per step (kernels/kv-rope.ts). The cpu implementation is the same loops as routines/rope.ts.
import { kvRopeKernel } from '../../kernels/kv-rope.ts';
import type { Storage } from '../backend.ts';
import { assertSizes, assertStorages, type Routine } from '../routine.ts';
import type { RopeStyle } from './rope.ts';

/** Where one of q, k, v sits in its storage: row r (= b·T + t) starts at offset + r · stride. */
export interface RowLayout { stride: number; offset: number }

export interface KvRopeParams {
  B: number;
  T: number;
  H: number;
  KV: number;
  D: number;
  /** Slots of the cache [B, KV, L, D]. */
  L: number;
  /** First slot this step writes (the cache length before it). */
  start: number;
  rotaryDim: number;
  style: RopeStyle;
  /** Rope table blocks (1: shared positions, B: one per sequence), as routines/rope.ts. */
  tableBlocks: number;
  q: RowLayout;
  k: RowLayout;
  v: RowLayout;
}

/**
 * q, k, v (rows b·T + t, laid out by p.q, p.k, p.v; H, KV, KV heads of D) and rope tables cos/sin
 * [tableBlocks · T, rotaryDim / 2] → q rotated [B, H, T, D] (returned); k rotated and v written into
 * kCache, vCache [B, KV, L, D] at slots start..start + T − 1, in place.
 */
export const kvRope: Routine<[q: Storage, k: Storage, v: Storage, cos: Storage, sin: Storage, kCache: Storage, vCache: Storage,
  p: KvRopeParams], Storage> = {
  name: 'kvRope',
  assert(q, k, v, cos, sin, kCache, vCache, p) {
    const op = 'kvRope';
    assertSizes(op, { B: p.B, T: p.T, H: p.H, KV: p.KV, D: p.D, L: p.L, start: p.start, rotaryDim: p.rotaryDim, tableBlocks: p.tableBlocks });
    if (p.style !== 'half' && p.style !== 'interleaved') throw new Error(`${op}: unknown style '${p.style}' (half, interleaved)`);
    if (p.rotaryDim % 2 !== 0 || p.rotaryDim > p.D) throw new Error(`${op}: rotaryDim ${p.rotaryDim} must be even and ≤ D = ${p.D}`);
    if (p.tableBlocks < 1 || p.B % p.tableBlocks !== 0) throw new Error(`${op}: tableBlocks ${p.tableBlocks} must divide B = ${p.B}`);
    if (p.start + p.T > p.L) throw new Error(`${op}: slots ${p.start}..${p.start + p.T - 1} are past the cache's ${p.L}`);
    const rows = p.B * p.T;
    for (const [name, s, heads, lay] of [['q', q, p.H, p.q], ['k', k, p.KV, p.k], ['v', v, p.KV, p.v]] as const) {
      assertSizes(op, { [`${name} stride`]: lay.stride, [`${name} offset`]: lay.offset });
      if (lay.stride < heads * p.D && rows > 1) throw new Error(`${op}: ${name} row stride ${lay.stride} is under its ${heads * p.D} values`);
      const need = rows === 0 ? 0 : lay.offset + (rows - 1) * lay.stride + heads * p.D;
      if (s.dtype !== 'f32' || s.size < need) throw new Error(`${op}: ${name} must be f32 with at least ${need} elements, got ${s.dtype} with ${s.size}`);
    }
    const table = [p.tableBlocks * p.T, p.rotaryDim / 2], cache = [p.B, p.KV, p.L, p.D];
    assertStorages(op, { cos: [cos, 'f32', table], sin: [sin, 'f32', table], kCache: [kCache, 'f32', cache], vCache: [vCache, 'f32', cache] });
  },
  cpu(c, q, k, v, cos, sin, kCache, vCache, p) {
    const { B, T, H, KV, D, L } = p;
    const h = p.rotaryDim / 2, perBlock = B / p.tableBlocks;
    const cd = c.data(cos), sd = c.data(sin);
    const qOut = c.alloc(B * H * T * D, 'f32');
    const [aStep, bOff] = p.style === 'half' ? [1, h] : [2, 1];
    // Rotate the D values at src[base..] into dst[at..], as routines/rope.ts does.
    const rotate = (src: ArrayLike<number>, base: number, dst: { [i: number]: number }, at: number, tab: number) => {
      for (let i = 0; i < h; i++) {
        const ia = i * aStep, ib = ia + bOff;
        const a = src[base + ia], b = src[base + ib], cs = cd[tab + i], sn = sd[tab + i];
        dst[at + ia] = a * cs - b * sn;
        dst[at + ib] = b * cs + a * sn;
      }
      for (let j = p.rotaryDim; j < D; j++) dst[at + j] = src[base + j];
    };
    const qd = c.data(q), kd = c.data(k), vd = c.data(v), qo = c.data(qOut), kc = c.data(kCache), vc = c.data(vCache);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const r = b * T + t, tab = (Math.floor(b / perBlock) * T + t) * h;
        for (let hd = 0; hd < H; hd++) rotate(qd, p.q.offset + r * p.q.stride + hd * D, qo, ((b * H + hd) * T + t) * D, tab);
        for (let hd = 0; hd < KV; hd++) {
          const slot = ((b * KV + hd) * L + p.start + t) * D;
          rotate(kd, p.k.offset + r * p.k.stride + hd * D, kc, slot, tab);
          const vs = p.v.offset + r * p.v.stride + hd * D;
          for (let j = 0; j < D; j++) vc[slot + j] = vd[vs + j];
        }
      }
    }
    return qOut;
  },
  webgpu(g, q, k, v, cos, sin, kCache, vCache, p) {
    const op = 'kvRope';
    const bindings = [g.bind(op, 'q', q), g.bind(op, 'k', k), g.bind(op, 'v', v), g.bind(op, 'cos', cos), g.bind(op, 'sin', sin)];
    const qOut = g.alloc(p.B * p.H * p.T * p.D, 'f32', op);
    const n = p.B * p.T * (p.H + 2 * p.KV) * p.D;
    if (n === 0) return qOut;
    bindings.push(g.bind(op, 'qOut', qOut), g.bind(op, 'kCache', kCache), g.bind(op, 'vCache', vCache));
    g.run1d(op, kvRopeKernel(p.style), bindings, {
      n, T: p.T, D: p.D, rd: p.rotaryDim, perBlock: p.B / p.tableBlocks, H: p.H, KV: p.KV, L: p.L, start: p.start,
      qs: p.q.stride, qo: p.q.offset, ks: p.k.stride, ko: p.k.offset, vs: p.v.stride, vo: p.v.offset,
    });
    return qOut;
  },
};
