// LoRA linear as one op: y = x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ over x [..., K], W [N, K], bias [N] or null,
// A [r, K] (lora_A), B [N, r] (lora_B). The forward is one backend routine (one pass over x on
// WebGPU, kernels/lora-linear.ts); the backward is written with matmuls:
//   g = dy [M, N], gb = s·(g·B) [M, r]:
//   dx = g·W + gb·A,  dA = gbᵀ·x,  dB = gᵀ·(s·xa),  dW = gᵀ·x,  dbias = Σ_rows g
// with xa = x·Aᵀ [M, r] from the forward. dW and dbias only where they require grad (LoRA freezes them).
import * as routines from '../../backends/routines/index.ts';
import { record } from '../autodiff.ts';
import { type Tensor, shapeStr } from '../tensor.ts';
import { wrap } from './create.ts';
import { add, mul } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { sum } from './reduce.ts';
import { reshape } from './shape.ts';
import { expectFloat, sameBackend } from './util.ts';

export function loraLinear(x: Tensor, w: Tensor, bias: Tensor | null, a: Tensor, b: Tensor, scale: number): Tensor {
  const inputs = bias ? [x, w, bias, a, b] : [x, w, a, b];
  expectFloat('lora_linear', ...inputs);
  sameBackend('lora_linear', ...inputs);
  if (x.ndim < 1) throw new Error(`lora_linear: x must be [..., K], got ${x.describe()}`);
  const K = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== K) throw new Error(`lora_linear: weight must be [N, ${K}] for x ${x.describe()}, got ${w.describe()}`);
  const N = w.shape[0];
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== N)) throw new Error(`lora_linear: bias must be [${N}], got ${bias.describe()}`);
  if (a.ndim !== 2 || a.shape[1] !== K || a.shape[0] < 1) throw new Error(`lora_linear: lora_A must be [r ≥ 1, ${K}], got ${a.describe()}`);
  const r = a.shape[0];
  if (b.ndim !== 2 || b.shape[0] !== N || b.shape[1] !== r) {
    throw new Error(`lora_linear: lora_B must be ${shapeStr([N, r])} for weight ${w.describe()} and lora_A ${a.describe()}, got ${b.describe()}`);
  }
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`lora_linear: scale must be a finite number, got ${scale}`);

  const lead = x.shape.slice(0, -1);
  const M = K === 0 ? lead.reduce((p, d) => p * d, 1) : x.size / K;
  const res = x.backend.run(routines.loraLinear, x.storage, w.storage, bias ? bias.storage : null, a.storage, b.storage, scale, M, N, K, r);
  const y = wrap(res.y, [...lead, N]);
  const xa = wrap(res.xa, [M, r]);
  const out = record(y, 'lora_linear', inputs, (g) => {
    const g2 = reshape(g, [M, N]), x2 = reshape(x, [M, K]);
    const needLow = x.requiresGrad || a.requiresGrad;
    const gb = needLow ? mul(matmul(g2, b), scale) : null; // s·(g·B) [M, r]
    const dx = x.requiresGrad ? reshape(add(matmul(g2, w), matmul(gb!, a)), x.shape) : null;
    const dw = w.requiresGrad ? matmul(g2, x2, { transA: true }) : null;
    const dbias = bias && bias.requiresGrad ? sum(g2, 0) : null;
    const da = a.requiresGrad ? matmul(gb!, x2, { transA: true }) : null;
    const db = b.requiresGrad ? matmul(g2, mul(xa, scale), { transA: true }) : null;
    return bias ? [dx, dw, dbias, da, db] : [dx, dw, da, db];
  });
  if (!out.requiresGrad) xa.dispose(); // only the backward reads it
  return out;
}
