// Per-layer key/value cache for incremental decoding, preallocated: k, v [B, KV, L, D] per layer
// hold L slots, of which the first `length` are filled; a step writes its T new keys and values in
// place at slots length..length + T − 1 (ops/decode.ts ropeIntoCache, fused with the rope of q and
// k) and attends over the whole buffer with past = length, so the causal mask hides the unfilled
// slots (they stay 0, so the kernels never read NaN there). The segment id of each stored key
// (left padding of batched prompts is segment 0) is kept on the host.
import { Tensor } from '../../../engine/tensor.ts';
import type { Backend } from '../../../engine/index.ts';
import { concat, scaledDotProductAttention, zeros } from '../../../engine/ops/index.ts';
import { type HeadRows, ropeIntoCache } from '../../../engine/ops/decode.ts';
import type { RopeTables } from '../../../engine/ops/nn.ts';

export interface KVCacheOpts {
  /** Slots to allocate up front (prompt + new tokens); a step past them grows the cache (a copy). */
  capacity?: number;
}

export class KVCache {
  private k: (Tensor | null)[];
  private v: (Tensor | null)[];
  /** Positions already stored (the same for every layer once a forward pass finishes). */
  length = 0;
  /** Slots per sequence of the allocated buffers (0 before the first step). */
  capacity = 0;
  /** Segment id of every stored position [B][length] (ForwardOpts.segments), for the attention mask. */
  private segments: number[][] = [];
  private shape: { B: number; KV: number; D: number; backend: Backend } | null = null;

  constructor(readonly numLayers: number, private readonly opts: KVCacheOpts = {}) {
    this.k = new Array(numLayers).fill(null);
    this.v = new Array(numLayers).fill(null);
  }

  /** Make room for a step of T positions of B sequences (KV heads of D): allocate, or grow by copying. */
  reserve(B: number, T: number, KV: number, D: number, backend: Backend): void {
    const s = this.shape;
    if (s && (s.B !== B || s.KV !== KV || s.D !== D || s.backend !== backend)) {
      throw new Error(`kv cache: holds [B=${s.B}, KV=${s.KV}, D=${s.D}] on ${s.backend.name}, this step is [B=${B}, KV=${KV}, D=${D}] on ${backend.name}`);
    }
    this.shape = { B, KV, D, backend };
    const need = this.length + T;
    if (need <= this.capacity) return;
    const L = Math.max(need, this.capacity === 0 ? (this.opts.capacity ?? 0) : 2 * this.capacity);
    const grow = (t: Tensor | null) => {
      const z = zeros([B, KV, L - this.capacity, D], { backend });
      if (!t) return z.keep();
      const g = concat([t, z], 2).keep();
      z.dispose(); t.dispose();
      return g;
    };
    for (let i = 0; i < this.numLayers; i++) { this.k[i] = grow(this.k[i]); this.v[i] = grow(this.v[i]); }
    this.capacity = L;
  }

  private buffers(layer: number): [Tensor, Tensor] {
    const k = this.k[layer], v = this.v[layer];
    if (!k || !v) throw new Error(`kv cache: layer ${layer} has no buffers (reserve() first)`);
    return [k, v];
  }

  /**
   * This step's q, k, v rows (b·T + t) of one layer: rotates q and k by the tables, writes k and v
   * at slots length..length + T − 1 in place; returns q rotated [B, H, T, D].
   */
  write(layer: number, q: HeadRows, k: HeadRows, v: HeadRows, tables: RopeTables, H: number): Tensor {
    const [kc, vc] = this.buffers(layer);
    return ropeIntoCache(q, k, v, tables, kc, vc, { B: kc.shape[0], T: tables.T, H, start: this.length });
  }

  /** Causal attention of this step's q [B, H, T, D] over the stored keys and its own (written by write()). */
  attend(layer: number, q: Tensor, seg: { segQ: Tensor; segK: Tensor } | null): Tensor {
    const [kc, vc] = this.buffers(layer);
    return scaledDotProductAttention(q, kc, vc, { ...(seg ?? {}), past: this.length });
  }

  /**
   * Segment ids of every slot a forward pass attends over [B][capacity]: the stored ones, then this
   * step's [B][T], then padding (the first id: those slots are masked as the future anyway).
   */
  keySegments(step: number[][]): number[][] {
    if (this.length > 0 && this.segments.length !== step.length) {
      throw new Error(`kv cache: holds ${this.segments.length} sequences, this step has ${step.length}`);
    }
    const first = (this.length > 0 ? this.segments[0][0] : step[0]?.[0]) ?? 1;
    return this.joined(step).map((row) => [...row, ...new Array<number>(Math.max(0, this.capacity - row.length)).fill(first)]);
  }

  private joined(step: number[][]): number[][] {
    return step.map((row, b) => (this.length > 0 ? [...this.segments[b], ...row] : row));
  }

  /** Count this step's t positions as stored, with their segment ids [B][t]. */
  advance(t: number, segments: number[][]): void {
    if (segments.some((r) => r.length !== t)) throw new Error(`kv cache: segment ids must be [B][${t}]`);
    this.segments = this.joined(segments);
    this.length += t;
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t?.dispose();
    this.k.fill(null); this.v.fill(null);
    this.length = 0;
    this.capacity = 0;
    this.segments = [];
    this.shape = null;
  }
}
