// Fused causal attention, forward and backward (kernels/attention-forward.ts, attention-backward.ts;
// the cpu reference in ../cpu/attention.ts). The [T, S] score matrix is never stored.
import {
  attentionBackwardBytes, attentionDeltaKernel, attentionDkDvKernel, attentionDqKernel, BACKWARD_TILES,
} from '../../kernels/attention-backward.ts';
import { type AttentionTiles, chooseTiles } from '../../kernels/attention-common.ts';
import { attentionForwardBytes, attentionForwardKernel, FORWARD_TILES } from '../../kernels/attention-forward.ts';
import type { Storage } from '../backend.ts';
import { attentionBackwardCpu, attentionForwardCpu } from '../cpu/attention.ts';
import { assertSizes, assertStorages, type CpuRoutineContext, f32Bits, type GpuRoutineContext, type Routine } from '../routine.ts';

/**
 * q [B, H, T, D], k, v [B, KV, S, D], f32, contiguous; H % KV = 0 and query head h reads kv head
 * floor(h / (H / KV)) (GQA without repeating k/v). Query t sits at absolute position past + t and
 * sees key s when s ≤ past + t and, with segment ids segQ i32 [B, T] / segK i32 [B, S],
 * segK[b, s] == segQ[b, t] (padding, packed sequences).
 */
export interface AttentionParams {
  B: number;
  H: number;
  KV: number;
  T: number;
  S: number;
  D: number;
  scale: number;
  past: number;
}

type Opt = Storage | null;

function assertAttention(op: string, p: AttentionParams, t: Record<string, Opt>): void {
  assertSizes(op, { B: p.B, H: p.H, KV: p.KV, T: p.T, S: p.S, D: p.D, past: p.past });
  if (p.D === 0) throw new Error(`${op}: head dim D must be at least 1`);
  if (p.KV === 0 ? p.H !== 0 : p.H % p.KV !== 0) throw new Error(`${op}: query heads H = ${p.H} must be a multiple of kv heads KV = ${p.KV}`);
  const q = [p.B, p.H, p.T, p.D], kv = [p.B, p.KV, p.S, p.D];
  assertStorages(op, {
    q: [t.q, 'f32', q], k: [t.k, 'f32', kv], v: [t.v, 'f32', kv], out: [t.out ?? null, 'f32', q], dOut: [t.dOut ?? null, 'f32', q],
    lse: [t.lse ?? null, 'f32', [p.B, p.H, p.T]], segQ: [t.segQ, 'i32', [p.B, p.T]], segK: [t.segK, 'i32', [p.B, p.S]],
  });
  if (!t.segQ !== !t.segK) throw new Error(`${op}: segQ and segK come together (both or neither)`);
}

/** The kernels keep a row of D values per thread group in workgroup memory. */
function assertHeadDim(op: string, D: number): void {
  if (D > 256) throw new Error(`webgpu ${op}: head dim D = ${D} is over the 256 the kernels support`);
}

/**
 * Fixed tiles instead of the automatic choice, per kernel: for the tile sweep
 * (bench/tuning/attention.ts) and the tests that cover layouts a device would not pick. Empty in use.
 */
export const attentionTileOverride: { forward?: AttentionTiles; dkdv?: AttentionTiles; dq?: AttentionTiles } = {};

/**
 * The override for `kernel`, else the first of the device profile's candidates (g.tiles; default
 * `candidates`, the kernels' own list) that fits the device and the problem.
 */
function tilesFor(g: GpuRoutineContext, kernel: keyof typeof attentionTileOverride, candidates: readonly AttentionTiles[],
  bytes: (t: AttentionTiles) => number, owned: number, op: string): AttentionTiles {
  const preferred = g.tiles?.attention[kernel === 'forward' ? 'forward' : 'backward'] ?? candidates;
  return attentionTileOverride[kernel] ?? chooseTiles(preferred, bytes, g.limits.maxComputeWorkgroupStorageSize,
    g.limits.maxComputeInvocationsPerWorkgroup, owned, op);
}

/** Uniform values of the tiled attention kernels for `blocks` tiles per (b, head) over `heads`. */
function attentionValues(p: AttentionParams, blocks: number, heads: number): Record<string, number> {
  return { B: p.B, H: p.H, KV: p.KV, T: p.T, S: p.S, past: p.past, scale: f32Bits(p.scale), blocks, total: p.B * heads * blocks };
}

const floats = (c: CpuRoutineContext, s: Storage) => c.data(s) as Float32Array | Float64Array;
const ints = (c: CpuRoutineContext, s: Opt) => (s ? c.data(s) as Int32Array : null);

/**
 * out [B, H, T, D] = softmax(scale · q kᵀ + mask) v and lse [B, H, T], the logsumexp of each
 * masked, scaled score row (kept for the backward). A query that sees no key gets out = 0 and
 * lse = −inf. segQ/segK: both or neither (null: causal only).
 */
export const attentionForward: Routine<[q: Storage, k: Storage, v: Storage, segQ: Opt, segK: Opt, p: AttentionParams],
  { out: Storage; lse: Storage }> = {
  name: 'attentionForward',
  assert: (q, k, v, segQ, segK, p) => assertAttention('attentionForward', p, { q, k, v, segQ, segK }),
  cpu(c, q, k, v, segQ, segK, p) {
    const out = c.alloc(q.size, 'f32'), lse = c.alloc(p.B * p.H * p.T, 'f32');
    attentionForwardCpu(floats(c, q), floats(c, k), floats(c, v), ints(c, segQ), ints(c, segK), p, floats(c, out), floats(c, lse));
    return { out, lse };
  },
  webgpu(g: GpuRoutineContext, q, k, v, segQ, segK, p) {
    const op = 'attentionForward';
    assertHeadDim(op, p.D);
    const bindings = [g.bind(op, 'q', q), g.bind(op, 'k', k), g.bind(op, 'v', v)];
    if (segQ && segK) bindings.push(g.bind(op, 'segQ', segQ), g.bind(op, 'segK', segK));
    const out = g.alloc(q.size, 'f32', op), lse = g.alloc(p.B * p.H * p.T, 'f32', op);
    if (lse.size === 0) return { out, lse };
    const tiles = tilesFor(g, 'forward', FORWARD_TILES, (t) => attentionForwardBytes(p.D, t), p.T, op);
    const blocks = Math.ceil(p.T / tiles.rows);
    bindings.push(g.bind(op, 'out', out), g.bind(op, 'lse', lse));
    g.runGrid(op, attentionForwardKernel(p.D, tiles, segQ !== null), bindings, attentionValues(p, blocks, p.H), p.B * p.H * blocks);
    return { out, lse };
  },
};

/**
 * Gradients of attentionForward given its out and lse and the output gradient dOut [B, H, T, D]:
 * dq [B, H, T, D], and dk, dv [B, KV, S, D] summed over the query heads of each kv head.
 */
export const attentionBackward: Routine<[q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, dOut: Storage,
  segQ: Opt, segK: Opt, p: AttentionParams], { dq: Storage; dk: Storage; dv: Storage }> = {
  name: 'attentionBackward',
  assert: (q, k, v, out, lse, dOut, segQ, segK, p) => assertAttention('attentionBackward', p, { q, k, v, out, lse, dOut, segQ, segK }),
  cpu(c, q, k, v, out, lse, dOut, segQ, segK, p) {
    const dq = c.alloc(q.size, 'f32'), dk = c.alloc(k.size, 'f32'), dv = c.alloc(v.size, 'f32');
    attentionBackwardCpu(floats(c, q), floats(c, k), floats(c, v), floats(c, out), floats(c, lse), floats(c, dOut), ints(c, segQ), ints(c, segK), p,
      floats(c, dq), floats(c, dk), floats(c, dv));
    return { dq, dk, dv };
  },
  webgpu(g, q, k, v, out, lse, dOut, segQ, segK, p) {
    const op = 'attentionBackward';
    assertHeadDim(op, p.D);
    const ins = [g.bind(op, 'q', q), g.bind(op, 'k', k), g.bind(op, 'v', v), g.bind(op, 'dOut', dOut)];
    const ob = g.bind(op, 'out', out), lb = g.bind(op, 'lse', lse);
    const segs = segQ && segK ? [g.bind(op, 'segQ', segQ), g.bind(op, 'segK', segK)] : [];
    const dq = g.alloc(q.size, 'f32', op), dk = g.alloc(k.size, 'f32', op), dv = g.alloc(v.size, 'f32', op);
    if (q.size === 0 || k.size === 0) { // no queries or no keys: every gradient is 0
      for (const d of [dq, dk, dv]) g.clear(d);
      return { dq, dk, dv };
    }
    const rows = p.B * p.H * p.T;
    const delta = g.alloc(rows, 'f32', op);
    g.run1d(op, attentionDeltaKernel(p.D), [ob, ins[3], g.bind(op, 'delta', delta)], { n: rows });
    const common = [...ins, lb, g.bind(op, 'delta', delta), ...segs];
    const bytes = (t: AttentionTiles) => attentionBackwardBytes(p.D, t);
    const kvTiles = tilesFor(g, 'dkdv', BACKWARD_TILES, bytes, p.S, op);
    const kBlocks = Math.ceil(p.S / kvTiles.rows);
    g.runGrid(op, attentionDkDvKernel(p.D, kvTiles, segs.length > 0),
      [...common, g.bind(op, 'dk', dk), g.bind(op, 'dv', dv)], attentionValues(p, kBlocks, p.KV), p.B * p.KV * kBlocks);
    const qTiles = tilesFor(g, 'dq', BACKWARD_TILES, bytes, p.T, op);
    const qBlocks = Math.ceil(p.T / qTiles.rows);
    g.runGrid(op, attentionDqKernel(p.D, qTiles, segs.length > 0),
      [...common, g.bind(op, 'dq', dq)], attentionValues(p, qBlocks, p.H), p.B * p.H * qBlocks);
    g.backend.free(delta);
    return { dq, dk, dv };
  },
};
