// The fused loraLinear op against the unfused composition it replaces in LoRALinear
// (x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ with matmul/add/mul), forward and gradients, on cpu, cpu float64 and
// WebGPU; and its gradients against float64 central finite differences.
import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../engine/autodiff.ts';
import * as w from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { Linear } from '../../engine/nn/layers.ts';
import { LoRALinear } from '../../engine/nn/lora.ts';
import { Generator } from '../../engine/random.ts';
import type { Backend } from '../../backends/backend.ts';
import { rng, uniform } from '../backends/compare.ts';
import { checkOp } from '../core/ops/check.ts';
import { testBackends } from '../setup/backends.ts';

function unfused(x: Tensor, W: Tensor, bias: Tensor | null, A: Tensor, B: Tensor, s: number): Tensor {
  const y = w.matmul(x, W, { transB: true });
  const low = w.matmul(w.matmul(x, A, { transB: true }), B, { transB: true });
  return w.add(bias ? w.add(y, bias) : y, w.mul(low, s));
}

interface Case { lead: number[]; K: number; N: number; r: number; bias: boolean; s: number }
const cases: Case[] = [
  { lead: [2, 3], K: 5, N: 4, r: 1, bias: true, s: 2 },
  { lead: [7], K: 9, N: 6, r: 4, bias: false, s: -0.5 },
  { lead: [17], K: 33, N: 17, r: 16, bias: true, s: 1.25 },
  { lead: [2, 1, 3], K: 4, N: 8, r: 4, bias: true, s: 0.75 }, // vec4-aligned K and N on WebGPU
];

for (const { name, get } of testBackends()) {
  describe(`fused lora_linear on ${name}`, () => {
    const rand = rng(5);
    const t = (b: Backend, shape: number[]) =>
      w.tensor(Float64Array.from(uniform(rand, shape.reduce((p, d) => p * d, 1))), shape, { backend: b });
    const close = (label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number) => {
      expect(got.length, label).toBe(want.length);
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) {
          throw new Error(`${label}[${i}]: fused ${got[i]}, unfused ${want[i]}`);
        }
      }
    };

    for (const c of cases) {
      const label = `x [${c.lead},${c.K}], N ${c.N}, r ${c.r}${c.bias ? ', bias' : ''}`;
      it(`forward and d/d(x, W, bias, A, B) equal the unfused ops: ${label}`, async () => {
        const b = await get();
        const tol = b.precision === 'f64' ? 1e-12 : 2e-5 * Math.sqrt(c.K * c.r);
        const xs = [t(b, [...c.lead, c.K]), t(b, [c.N, c.K]), t(b, [c.N]), t(b, [c.r, c.K]), t(b, [c.N, c.r])];
        const R = t(b, [...c.lead, c.N]);
        const run = async (f: typeof unfused) => {
          const { value, grads } = valueAndGrad((x: Tensor, W: Tensor, bi: Tensor, A: Tensor, B: Tensor) =>
            w.sum(w.mul(f(x, W, c.bias ? bi : null, A, B, c.s), R)))(...(xs as [Tensor, Tensor, Tensor, Tensor, Tensor]));
          const y = f(xs[0], xs[1], c.bias ? xs[2] : null, xs[3], xs[4], c.s);
          return { y: await y.data(), v: await value.item(), g: await Promise.all((grads as Tensor[]).map((g) => g.data())) };
        };
        const got = await run(w.loraLinear), want = await run(unfused);
        close(`${label} y`, got.y, want.y, tol);
        close(`${label} loss`, [got.v], [want.v], tol);
        ['x', 'W', 'bias', 'A', 'B'].forEach((n, i) => {
          if (n === 'bias' && !c.bias) return;
          close(`${label} d${n}`, got.g[i], want.g[i], tol);
        });
      });
    }

    it('frozen base (as LoRA trains): W and bias get no gradient, x, A and B do', async () => {
      const b = await get();
      const [x, W, bi, A, B] = [t(b, [3, 6]), t(b, [5, 6]), t(b, [5]), t(b, [2, 6]), t(b, [5, 2])];
      const tol = b.precision === 'f64' ? 1e-12 : 1e-4;
      const loss = (f: typeof unfused) => valueAndGrad((x_: Tensor, A_: Tensor, B_: Tensor) => w.sum(w.square(f(x_, W, bi, A_, B_, 3))))(x, A, B);
      const got = loss(w.loraLinear), want = loss(unfused);
      for (let i = 0; i < 3; i++) close(`frozen d${'xAB'[i]}`, await (got.grads[i] as Tensor).data(), await (want.grads[i] as Tensor).data(), tol);
      // Forward without a tape keeps no xa around and records nothing.
      const y = w.loraLinear(x, W, bi, A, B, 3);
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBeFalsy();
    });

    it('gradients match float64 finite differences (with and without bias)', async () => {
      const b = await get();
      await checkOp({
        name: 'lora_linear (fused)',
        inputs: [{ shape: [2, 3, 5] }, { shape: [4, 5] }, { shape: [4] }, { shape: [3, 5] }, { shape: [4, 3] }],
        fn: ([x, W, bi, A, B]) => w.loraLinear(x, W, bi, A, B, 1.5),
      }, b, 21);
      await checkOp({
        name: 'lora_linear (fused, no bias)',
        inputs: [{ shape: [7, 4] }, { shape: [9, 4] }, { shape: [1, 4] }, { shape: [9, 1] }],
        fn: ([x, W, A, B]) => w.loraLinear(x, W, null, A, B, -2),
      }, b, 22);
    });

    it('LoRALinear uses the fused op unless dropout is active; enabled = false is the base layer', async () => {
      const b = await get();
      const base = new Linear(6, 5, { backend: b, bias: true });
      base.weight.assign(t(b, [5, 6]));
      base.bias!.assign(t(b, [5]));
      const l = new LoRALinear(base, { r: 2, alpha: 4, dropout: 0.5 }, { generator: new Generator(1) });
      l.lora_B.assign(t(b, [5, 2]));
      const x = t(b, [3, 6]);
      const tol = b.precision === 'f64' ? 1e-12 : 1e-5;
      l.training = false;
      const y = l.forward(x);
      expect(y.node?.op).toBe('lora_linear');
      close('eval forward', await y.data(), await unfused(x, base.weight, base.bias, l.lora_A, l.lora_B, l.scale).data(), tol);
      l.training = true; // dropout 0.5 in training: the unfused path with a dropout mask
      expect(l.forward(x).node?.op).not.toBe('lora_linear');
      l.enabled = false;
      expect(Array.from(await l.forward(x).data())).toEqual(Array.from(await base.forward(x).data()));
    });

    it('bad shapes name the op and the field', async () => {
      const b = await get();
      const [x, W, A, B] = [t(b, [2, 3]), t(b, [4, 3]), t(b, [2, 3]), t(b, [4, 2])];
      expect(() => w.loraLinear(x, t(b, [4, 2]), null, A, B, 1)).toThrow(/lora_linear: weight must be \[N, 3\]/);
      expect(() => w.loraLinear(x, W, t(b, [3]), A, B, 1)).toThrow(/lora_linear: bias must be \[4\]/);
      expect(() => w.loraLinear(x, W, null, t(b, [2, 4]), B, 1)).toThrow(/lora_linear: lora_A must be \[r ≥ 1, 3\]/);
      expect(() => w.loraLinear(x, W, null, A, t(b, [4, 3]), 1)).toThrow(/lora_linear: lora_B must be \[4, 2\]/);
      expect(() => w.loraLinear(x, W, null, A, B, NaN)).toThrow(/scale must be a finite number/);
    });
  });
}
