// Pieces shared by the fused attention kernels (attention-forward.ts, attention-backward.ts).
//
// Layout: Q, dQ, O, dO [B, H, T, D], K, V, dK, dV [B, KV, S, D], LSE, delta [B, H, T], all
// contiguous f32; segment ids SQ i32 [B, T], SK i32 [B, S]. Query head h reads kv head h / (H / KV).
// Key s is visible to query t when s ≤ past + t (causal, t counted from the cache end) and, with
// segments, SK[b, s] == SQ[b, t].
//
// Tiles live in workgroup memory with an odd row stride (DP = D or D + 1): threads of one warp
// read rows at the same column, and an odd stride puts those rows in distinct banks.
// Uniform words (shared by the three tiled kernels): B, H, KV, T, S, past, scale (f32 bits),
// blocks (query or key blocks per (b, head)), total (workgroups that do work).

export const ATTENTION_PARAMS = ['B', 'H', 'KV', 'T', 'S', 'past', 'scale', 'blocks', 'total'];

/**
 * Workgroup tiles of one attention kernel: `rows` rows owned by the workgroup (queries in the
 * forward and dQ kernels, keys in the dK/dV kernel) against `cols` rows of the other side per step,
 * with TPR threads per owned row.
 */
export interface AttentionTiles {
  rows: number;
  cols: number;
  TPR: number;
}

/** Odd row stride of a [rows, D] tile in workgroup memory. */
export function rowStride(D: number): number {
  return D % 2 === 0 ? D + 1 : D;
}

// Largest first: more owned rows per workgroup means fewer reloads of the other side's tiles.
const CANDIDATES: [number, number][] = [[64, 32], [32, 32], [32, 16], [16, 16], [16, 8], [8, 8], [8, 4], [4, 4]];
// A decode step (one query per row) walks the whole cache in one workgroup: wide key steps mean
// fewer barriers per key.
const FEW_ROWS: [number, number][] = [[4, 64], [4, 32]];

/**
 * The largest tiles whose workgroup memory (f32 words, `words(rows, cols)`) fits `limitBytes`, and
 * not much larger than the problem (`owned` rows; a decode step, T = 1, gets the smallest tile).
 */
export function chooseTiles(words: (rows: number, cols: number) => number, limitBytes: number, owned: number, op: string): AttentionTiles {
  for (const [rows, cols] of owned <= 4 ? [...FEW_ROWS, ...CANDIDATES] : CANDIDATES) {
    if (rows > 4 && owned <= rows / 2) continue; // mostly idle rows: a smaller tile wastes less
    if (words(rows, cols) * 4 > limitBytes) continue;
    const TPR = rows >= 64 ? 2 : rows >= 32 ? 4 : 8;
    return { rows, cols, TPR };
  }
  throw new Error(`${op}: no tile fits in ${limitBytes} bytes of workgroup memory`);
}

/** WGSL: the workgroup's (b, head, block) from the linear workgroup index `w`; heads = H or KV. */
export function decodeWorkgroup(heads: string): string {
  return `let blk = w % P.blocks;
  let bh = w / P.blocks; // b · ${heads} + head
  let head = bh % P.${heads};
  let b = bh / P.${heads};`;
}

/** WGSL condition: key `sj` (index in [0, S)) visible to query `t` (segment `sq`, key segment `sk`). */
export function visible(segments: boolean, t: string, sj: string, sq: string, sk: string): string {
  return `(${t} < P.T && ${sj} < P.S && ${sj} <= P.past + ${t}${segments ? ` && ${sk} == ${sq}` : ''})`;
}
