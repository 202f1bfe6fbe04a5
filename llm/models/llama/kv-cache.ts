// Per-layer key/value cache for incremental decoding: k, v [B, KV, S, D] grow along S, and the
// segment id of each stored key (left padding of batched prompts is segment 0) grows with them.
import { Tensor } from '../../../engine/tensor.ts';
import { concat } from '../../../engine/ops/index.ts';

export class KVCache {
  private k: (Tensor | null)[];
  private v: (Tensor | null)[];
  /** Positions already stored (the same for every layer once a forward pass finishes). */
  length = 0;
  /** Segment id of every stored position [B][length] (ForwardOpts.segments), for the attention mask. */
  private segments: number[][] = [];

  constructor(readonly numLayers: number) {
    this.k = new Array(numLayers).fill(null);
    this.v = new Array(numLayers).fill(null);
  }

  /** Store this step's k/v for a layer and return the full k/v to attend over. */
  append(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const pk = this.k[layer], pv = this.v[layer];
    const nk = (pk ? concat([pk, k], 2) : k.view(k.shape)).keep();
    const nv = (pv ? concat([pv, v], 2) : v.view(v.shape)).keep();
    pk?.dispose(); pv?.dispose();
    this.k[layer] = nk; this.v[layer] = nv;
    return [nk, nv];
  }

  /** Segment ids of all keys a forward pass attends over: the stored ones, then this step's [B][T]. */
  keySegments(step: number[][]): number[][] {
    if (this.length > 0 && this.segments.length !== step.length) {
      throw new Error(`kv cache: holds ${this.segments.length} sequences, this step has ${step.length}`);
    }
    return step.map((row, b) => (this.length > 0 ? [...this.segments[b], ...row] : row));
  }

  /** Count this step's t positions as stored, with their segment ids [B][t]. */
  advance(t: number, segments: number[][]): void {
    if (segments.some((r) => r.length !== t)) throw new Error(`kv cache: segment ids must be [B][${t}]`);
    this.segments = this.keySegments(segments);
    this.length += t;
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t?.dispose();
    this.k.fill(null); this.v.fill(null);
    this.length = 0;
    this.segments = [];
  }
}
