// LoRA (Hu et al. 2021) as PEFT defines it: y = x·Wᵀ + b + s·(dropout(x)·Aᵀ)·Bᵀ,
// A [r, in] Kaiming-uniform (a = √5, so bound 1/√in), B [out, r] zeros, s = alpha/r (or alpha/√r, rsLoRA).
// The base Linear's weights stay frozen: they get no gradient and no optimizer state.
import type { Backend } from '../../backends/backend.ts';
import { Tensor } from '../tensor.ts';
import { add, loraLinear, matmul, mul, rand, zeros } from '../ops/index.ts';
import { Generator } from '../random.ts';
import { Linear } from './layers.ts';
import { Module } from './module.ts';

export interface LoRAConfig {
  r: number;
  alpha: number;
  dropout?: number;
  /** rsLoRA: scale alpha/√r instead of alpha/r. */
  rslora?: boolean;
}

export function loraScale(c: LoRAConfig): number {
  return c.rslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

export class LoRALinear extends Module {
  readonly lora_A: Tensor;
  readonly lora_B: Tensor;
  scale: number;
  /** Off: behaves exactly as the base layer (the DPO reference model). */
  enabled = true;
  readonly dropoutRng: Generator;
  training = true;

  constructor(readonly base: Linear, readonly config: LoRAConfig, opts: { generator: Generator; backend?: Backend }) {
    super();
    if (!Number.isInteger(config.r) || config.r <= 0) throw new Error(`LoRA: r must be a positive integer, got ${config.r}`);
    const backend = opts.backend ?? base.weight.backend;
    this.child('base_layer', base);
    const bound = 1 / Math.sqrt(base.inFeatures);
    this.lora_A = this.param('lora_A', rand([config.r, base.inFeatures], { low: -bound, high: bound, generator: opts.generator, backend }));
    this.lora_B = this.param('lora_B', zeros([base.outFeatures, config.r], { backend }));
    this.lora_A.requiresGrad = true;
    this.lora_B.requiresGrad = true;
    this.scale = loraScale(config);
    this.dropoutRng = new Generator(opts.generator.nextU32());
  }

  /** x [..., in] → [..., out] */
  forward(x: Tensor): Tensor {
    if (!this.enabled) return this.base.forward(x);
    const p = this.config.dropout ?? 0;
    if (!(this.training && p > 0)) {
      // One pass over x for both products (engine/ops/lora-linear.ts).
      return loraLinear(x, this.base.weight, this.base.bias, this.lora_A, this.lora_B, this.scale);
    }
    // With dropout the low-rank branch sees dropout(x) ≠ x, so it cannot share the base's pass.
    const y = this.base.forward(x);
    const keep = rand([...x.shape], { generator: this.dropoutRng, backend: x.backend });
    const xd = mul(x, mul(keep.ge(p), 1 / (1 - p)));
    const low = matmul(matmul(xd, this.lora_A, { transB: true }), this.lora_B, { transB: true });
    return add(y, mul(low, this.scale));
  }
}
