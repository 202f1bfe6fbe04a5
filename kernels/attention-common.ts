// Pieces shared by the fused attention kernels (attention-forward.ts, attention-backward.ts).
//
// Layout: Q, dQ, O, dO [B, H, T, D], K, V, dK, dV [B, KV, S, D], LSE, delta [B, H, T], all
// contiguous f32; segment ids SQ i32 [B, T], SK i32 [B, S]. Query head h reads kv head h / (H / KV).
// Key s is visible to query t when s ≤ past + t (causal, t counted from the cache end) and, with
// segments, SK[b, s] == SQ[b, t].
//
// Register tiling (the forward and both backward kernels): a workgroup owns `rows` rows (queries, or
// keys in dK/dV) and walks `cols` rows of the other side per step. Its threads form a TI × TJ grid
// (TI = rows / RQ): thread (ti, tj) owns the RQ consecutive rows ti·RQ + r, the other side's rows
// tj + TJ·u of each step (u < cols / TJ, interleaved so that a warp's lanes read consecutive rows),
// and the head-dim units tj + TJ·n of its accumulators. A "unit" is a vec4 when D % 4 = 0, else one
// f32: every workgroup-memory read in the inner loops is then a vec4 feeding 4 × (rows or cols per
// thread) FMAs, instead of one scalar read per FMA.
// Tiles live in workgroup memory with an odd row stride in units (DP = DU or DU + 1): lanes reading
// consecutive rows at one column then hit distinct banks. They are 2-D arrays (tile[row][unit]): with
// Dawn's robustness every index is clamped, and a loop-invariant row index is clamped once outside
// the loop while the clamp of the shared loop index serves all the loads of one iteration
// (bench/NOTES.md, matmul step 5: the same change gained 11 %).
// Uniform words (shared by the three tiled kernels): B, H, KV, T, S, past, scale (f32 bits),
// blocks (query or key blocks per (b, head)), total (workgroups that do work).

export const ATTENTION_PARAMS = ['B', 'H', 'KV', 'T', 'S', 'past', 'scale', 'blocks', 'total'];

/** Register tiles of one attention kernel (see the header). */
export interface AttentionTiles {
  /** Rows owned by a workgroup. */
  rows: number;
  /** Rows of the other side staged per step (a multiple of 4 and of TJ). */
  cols: number;
  /** Owned rows per thread. */
  RQ: number;
  /** Threads across a row (a multiple of 4). */
  TJ: number;
}

/** Head-dim storage: vec4 units when D % 4 = 0, else f32. */
export interface Units {
  W: 1 | 4;
  /** Units per row (D / W). */
  DU: number;
  /** Odd row stride of a tile in units. */
  DP: number;
  /** WGSL type of a unit. */
  T: string;
  /** WGSL: the dot product of two units. */
  dot(a: string, b: string): string;
  /** WGSL: a zero unit. */
  zero: string;
}

export function units(D: number): Units {
  const W = D % 4 === 0 ? 4 : 1;
  const DU = D / W;
  return {
    W, DU, DP: DU % 2 === 0 ? DU + 1 : DU, T: W === 4 ? 'vec4<f32>' : 'f32',
    dot: W === 4 ? (a, b) => `dot(${a}, ${b})` : (a, b) => `(${a} * ${b})`,
    zero: W === 4 ? 'vec4<f32>(0.0)' : '0.0',
  };
}

export function threads(t: AttentionTiles): number {
  return (t.rows / t.RQ) * t.TJ;
}

/**
 * The first candidate whose workgroup memory (`bytes(tiles)`) and threads fit the device and that is
 * not much larger than the problem (`owned` rows: a decode step, T = 1, gets a one-row tile).
 */
export function chooseTiles(candidates: readonly AttentionTiles[], bytes: (t: AttentionTiles) => number, limitBytes: number,
  maxThreads: number, owned: number, op: string): AttentionTiles {
  for (const t of candidates) {
    if (t.rows > 4 && owned <= t.rows / 2) continue; // mostly idle rows: a smaller tile wastes less
    if (bytes(t) > limitBytes || threads(t) > maxThreads) continue;
    return t;
  }
  throw new Error(`${op}: no tile fits in ${limitBytes} bytes of workgroup memory and ${maxThreads} threads`);
}

/**
 * WGSL: the workgroup's (b, head, block) from the linear workgroup index `w`; heads = H or KV.
 * Causal work per block is uneven (query block i sees i + 1 key blocks; key block j is seen by
 * blocks − j query blocks), so the heaviest blocks get the lowest indices, which the GPU starts
 * first, and the light ones fill the gaps at the end (longest-processing-time-first order).
 * `heavyLast`: block index blocks − 1 is the heaviest (forward, dQ); else block 0 is (dK/dV).
 */
export function decodeWorkgroup(heads: string, heavyLast: boolean): string {
  return `let nbh = P.total / P.blocks; // B · ${heads}
  let rank = w / nbh;
  let blk = ${heavyLast ? 'P.blocks - 1u - rank' : 'rank'};
  let bh = w % nbh; // b · ${heads} + head
  let head = bh % P.${heads};
  let b = bh / P.${heads};`;
}

/** WGSL condition: key `sj` (index in [0, S)) visible to query `t` (segment `sq`, key segment `sk`). */
export function visible(segments: boolean, t: string, sj: string, sq: string, sk: string): string {
  return `((${t} < P.T) & (${sj} < P.S) & (${sj} <= P.past + ${t})${segments ? ` & (${sk} == ${sq})` : ''})`;
}

/**
 * WGSL: stage rows [r0, r0 + rows) of a [·, DU] unit slab at `base` into `tile` (stride DP), zero
 * past row `n`; `mul` scales each unit.
 */
export function stageRows(u: Units, tile: string, src: string, rows: number, WG: number, base: string, r0: string, n: string, mul = ''): string {
  return `for (var e = lid; e < ${rows * u.DU}u; e = e + ${WG}u) {
      let r = e / ${u.DU}u;
      let d = e % ${u.DU}u;
      var x = ${u.zero};
      if (${r0} + r < ${n}) { x = ${src}[${base} + (${r0} + r) * ${u.DU}u + d]${mul}; }
      ${tile}[r][d] = x;
    }`;
}

/** `f(i)` for i < n, joined by newlines (the generated code is unrolled over register indices). */
export function unroll(n: number, f: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => f(i)).join('\n');
}
