// Per-layer key/value cache for incremental decoding: k, v [B, KV, S, D] grow along S.
import { Tensor } from '../../tensor.ts';
import { concat } from '../../ops/index.ts';

export class KVCache {
  private k: (Tensor | null)[];
  private v: (Tensor | null)[];
  /** Positions already stored (the same for every layer once a forward pass finishes). */
  length = 0;

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

  advance(t: number): void { this.length += t; }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t?.dispose();
    this.k.fill(null); this.v.fill(null);
    this.length = 0;
  }
}
