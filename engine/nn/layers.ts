// Basic layers. Weight layouts follow PyTorch (Linear weight [out, in]) so checkpoints load as is.
import { Tensor } from '../tensor.ts';
import { add, matmul, embedding, rmsNorm, zeros, type CreateOpts } from '../ops/index.ts';
import { Module } from './module.ts';

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: CreateOpts & { bias?: boolean } = {}) {
    super();
    this.weight = this.param('weight', zeros([outFeatures, inFeatures], opts));
    this.bias = opts.bias ? this.param('bias', zeros([outFeatures], opts)) : null;
  }

  /** x [..., in] → x·Wᵀ + b [..., out] */
  forward(x: Tensor): Tensor {
    const y = matmul(x, this.weight, { transB: true });
    return this.bias ? add(y, this.bias) : y;
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(readonly num: number, readonly dim: number, opts: CreateOpts = {}) {
    super();
    this.weight = this.param('weight', zeros([num, dim], opts));
  }
  /** ids i32 [...] → [..., dim] */
  forward(ids: Tensor): Tensor { return embedding(this.weight, ids); }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;
  constructor(readonly dim: number, readonly eps: number, opts: CreateOpts = {}) {
    super();
    this.weight = this.param('weight', zeros([dim], opts));
  }
  forward(x: Tensor): Tensor { return rmsNorm(x, this.weight, this.eps); }
}
