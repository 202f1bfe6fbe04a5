// Per-layer key/value cache for incremental decoding, preallocated: k, v [B, KV, L, D] per layer
// hold L slots, of which the first `length` are filled; a step writes its T new keys and values in
// place at slots length..length + T − 1 (ops/decode.ts ropeIntoCache, fused with the rope of q and
// k) and attends over the whole buffer with past = length, so the causal mask hides the unfilled
// slots (they stay 0, so the kernels never read NaN there). The segment id of each slot (left
// padding of batched prompts is segment 0) is kept on the host in one [B, capacity] array and on
// the device, uploaded again only when a step changes it.
import { Tensor } from '../../../engine/tensor.ts';
import type { Backend } from '../../../engine/index.ts';
import { concat, scaledDotProductAttention, tensor, zeros } from '../../../engine/ops/index.ts';
import { type HeadRows, ropeIntoCache } from '../../../engine/ops/decode.ts';
import type { RopeTables } from '../../../engine/ops/nn.ts';

/** Segment id of the slots not yet written (masked as the future; generation's new tokens are 1). */
const FUTURE_ID = 1;

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
  /** Segment id of every slot [B, capacity] (ForwardOpts.segments; FUTURE_ID past the stored ones), for the attention mask. */
  private segIds: Int32Array | null = null;
  /** Its device copy (null until a step needs it), and whether the host copy changed since the upload. */
  private segK: Tensor | null = null;
  private segUpload = true;
  /** The first id written, and whether any id written since differs from it. */
  private firstId: number | null = null;
  private mixed = false;
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
    const ids = new Int32Array(B * L).fill(FUTURE_ID);
    if (this.segIds) for (let b = 0; b < B; b++) ids.set(this.segIds.subarray(b * this.capacity, b * this.capacity + this.length), b * L);
    this.segIds = ids;
    this.segUpload = true;
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
   * The segment ids of a step's queries [B][T] and of every slot it attends over [B, capacity] as
   * i32 tensors for the attention (null when every query and stored key shares one id: the causal
   * mask alone says it all). The step's ids are written into the host copy at its slots; the key
   * tensor is uploaded again only when that changed a value. Slots past the step hold FUTURE_ID
   * (any id would do, the causal mask hides them; 1 is what generation gives new tokens), so decode
   * steps of generate() reuse one upload. The key tensor belongs to the cache.
   */
  segmentTensors(step: number[][]): { segQ: Tensor; segK: Tensor } | null {
    const s = this.shape;
    if (!s) throw new Error('kv cache: segmentTensors() before reserve()');
    const T = step[0]?.length ?? 0;
    if (step.length !== s.B || step.some((r) => r.length !== T)) throw new Error(`kv cache: segment ids must be [${s.B}][${T}]`);
    if (this.length + T > this.capacity) throw new Error(`kv cache: ${this.length} + ${T} slots exceed the capacity ${this.capacity} (reserve() first)`);
    const L = this.capacity, ids = this.segIds!;
    for (let b = 0; b < s.B; b++) {
      for (let t = 0; t < T; t++) {
        const v = step[b][t], at = b * L + this.length + t;
        if (!Number.isInteger(v)) throw new Error(`kv cache: segment id ${v} is not an integer`);
        if (ids[at] !== v) { ids[at] = v; this.segUpload = true; }
        this.firstId ??= v;
        if (v !== this.firstId) this.mixed = true;
      }
    }
    if (!this.mixed) return null;
    if (this.segUpload || !this.segK) {
      this.segK?.dispose();
      this.segK = tensor(ids.slice(), [s.B, L], { backend: s.backend, dtype: 'i32' }).keep();
      this.segUpload = false;
    }
    return { segQ: tensor(Int32Array.from(step.flat()), [s.B, T], { backend: s.backend, dtype: 'i32' }), segK: this.segK };
  }

  /** Count this step's t positions (whose ids segmentTensors() wrote) as stored. */
  advance(t: number): void {
    if (this.length + t > this.capacity) throw new Error(`kv cache: ${this.length} + ${t} slots exceed the capacity ${this.capacity}`);
    this.length += t;
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t?.dispose();
    this.k.fill(null); this.v.fill(null);
    this.segK?.dispose();
    this.segK = null;
    this.segIds = null;
    this.segUpload = true;
    this.firstId = null;
    this.mixed = false;
    this.length = 0;
    this.capacity = 0;
    this.shape = null;
  }
}
