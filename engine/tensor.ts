// Tensor: a shape and dtype over reference-counted backend storage.
// Tensors are contiguous and immutable (ops return new tensors); `reshape` shares storage.
// Mutation: `assign` swaps the storage a parameter points to; `writableStorage` hands a backend
// primitive an unshared storage to update in place (fused optimizer steps).
import type { Backend, DType, Storage } from '../backends/backend.ts';
import { track, untrack } from './memory.ts';
import type { GradNode } from './autodiff.ts';

/** Storage shared by the tensors that view it; freed when the last one is disposed. */
export class SharedStorage {
  refs = 1;
  constructor(readonly storage: Storage) {}
  retain(): this { this.refs++; return this; }
  release(): void {
    if (--this.refs === 0) this.storage.backend.free(this.storage);
  }
}

/**
 * A value lazy mode (engine/lazy.ts) has not computed yet. The tensor asks for it on first use of
 * its storage (a read, or any op that is not elementwise), and lets go of it when disposed.
 */
export interface PendingValue {
  readonly backend: Backend;
  /** Compute the value if needed; → a reference the tensor now owns. */
  realize(): SharedStorage;
  /** The tensor no longer shows this value (it was realised or disposed). */
  drop(): void;
}

let nextId = 0;

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`; null until then or after `zeroGrad()`. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when recorded for autodiff. */
  node: GradNode | null = null;
  /** Values known on the host (tensors made from arrays): lets index ops validate without a GPU read. */
  host: ArrayLike<number> | null = null;
  name = '';
  private buf: SharedStorage | null;
  private pending: PendingValue | null = null;

  constructor(buf: SharedStorage | PendingValue, shape: readonly number[], readonly dtype: DType) {
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    if (!(buf instanceof SharedStorage)) {
      this.buf = null;
      this.pending = buf;
    } else if (buf.storage.size !== this.size) {
      throw new Error(`internal: tensor of shape ${shapeStr(shape)} over storage of ${buf.storage.size} elements`);
    } else {
      this.buf = buf;
    }
    track(this);
  }

  get ndim(): number { return this.shape.length; }
  get backend(): Backend {
    if (this.pending) return this.pending.backend; // known without computing the value
    return this.live().storage.backend;
  }
  get storage(): Storage { return this.live().storage; }
  get isDisposed(): boolean { return this.buf === null && this.pending === null; }
  /** The lazy value this tensor will show, until something needs its storage (engine/lazy.ts). */
  get pendingValue(): PendingValue | null { return this.pending; }

  /** Another reference to the storage (computing a pending value first): lazy graphs hold inputs by value. */
  retainStorage(): SharedStorage { return this.live().retain(); }

  private live(): SharedStorage {
    if (!this.buf && this.pending) {
      const p = this.pending;
      this.buf = p.realize();
      this.pending = null;
      p.drop();
    }
    if (!this.buf) throw new Error(`tensor ${this.describe()} was used after it was disposed`);
    return this.buf;
  }

  describe(): string {
    return `${this.name ? this.name + ' ' : ''}${this.dtype}${shapeStr(this.shape)}`;
  }

  /** A new tensor over the same storage (reshape and detach are views). */
  view(shape: readonly number[]): Tensor {
    return new Tensor(this.live().retain(), shape, this.dtype);
  }

  /** Read the values back; on WebGPU this submits queued work and waits for it. */
  async data(): Promise<Float32Array | Float64Array | Int32Array> {
    return this.backend.read(this.storage);
  }

  /** Nested JS arrays of the values, shaped like the tensor. */
  async array(): Promise<unknown> {
    const d = Array.from(await this.data());
    const build = (dim: number, off: number): unknown => {
      if (dim === this.ndim) return d[off];
      const step = shapeSize(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: expected a tensor with one element, got ${this.describe()}`);
    return (await this.data())[0];
  }

  /** Point this tensor at v's values (same shape and dtype): the in-place update optimizers use. */
  assign(v: Tensor): this {
    if (v.dtype !== this.dtype || v.shape.length !== this.shape.length || v.shape.some((d, i) => d !== this.shape[i])) {
      throw new Error(`assign: expected ${this.describe()}, got ${v.describe()}`);
    }
    const next = v.live().retain();
    this.live().release();
    this.buf = next;
    this.host = v.host;
    return this;
  }

  /** Whether another tensor (a reshape/detach view) shares this tensor's storage. */
  get storageShared(): boolean {
    return this.live().refs > 1;
  }

  /**
   * The storage, ready for a backend primitive to mutate in place (the adamw routine): when views
   * share it, this tensor first moves to a private copy (copy-on-write), so the views keep the
   * old values, exactly as `assign` would have left them. Host-known values are dropped.
   */
  writableStorage(): Storage {
    const buf = this.live();
    if (buf.refs > 1) {
      const copy = this.backend.copy({ storage: buf.storage, offset: 0, strides: [1] }, [this.size]);
      buf.release();
      this.buf = new SharedStorage(copy);
    }
    this.host = null;
    return this.buf!.storage;
  }

  /** Keep this tensor alive past the enclosing tidy scope. */
  keep(): this {
    untrack(this);
    return this;
  }

  dispose(): void {
    if (this.isDisposed) return;
    if (this.pending) { this.pending.drop(); this.pending = null; }
    this.buf?.release();
    this.buf = null;
    this.node = null;
    untrack(this);
    if (this.grad) { this.grad.dispose(); this.grad = null; }
  }

  zeroGrad(): void {
    if (this.grad) { this.grad.dispose(); this.grad = null; }
  }
}
