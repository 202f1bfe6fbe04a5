// Autodiff semantics: accumulation, noGrad, detach, valueAndGrad trees, shared subexpressions.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { testBackends } from '../setup/backends.ts';

for (const { name, get } of testBackends()) {
  describe(`autodiff on ${name}`, () => {
    const opts = async () => ({ backend: await get() });

    it('backward accumulates into .grad until zeroGrad', async () => {
      const o = await opts();
      const x = w.tensor([1, 2, 3], [3], o);
      x.requiresGrad = true;
      w.tidy(() => w.sum(w.mul(x, x)).backward());
      expect(Array.from(await x.grad!.data())).toEqual([2, 4, 6]);
      w.tidy(() => w.sum(w.mul(x, 3)).backward());
      expect(Array.from(await x.grad!.data())).toEqual([5, 7, 9]);
      x.zeroGrad();
      expect(x.grad).toBeNull();
      x.dispose();
    });

    it('a tensor used twice gets the sum of both paths', async () => {
      const o = await opts();
      const x = w.tensor([0.5, -1], [2], o);
      const { value, grads } = w.valueAndGrad((t: w.Tensor) => w.sum(w.add(w.mul(t, t), w.exp(t))))(x);
      const xs = [0.5, -1];
      expect(await value.item()).toBeCloseTo(xs.reduce((s, v) => s + v * v + Math.exp(v), 0), 5);
      const g = await (grads[0] as w.Tensor).data();
      xs.forEach((v, i) => expect(g[i]).toBeCloseTo(2 * v + Math.exp(v), 5));
    });

    it('noGrad records nothing and detach cuts the graph', async () => {
      const o = await opts();
      const x = w.tensor([2], [1], o);
      x.requiresGrad = true;
      const y = w.noGrad(() => w.mul(x, x));
      expect(y.requiresGrad).toBe(false);
      const z = w.mul(w.detach(x), x); // d/dx = detached x = 2
      const [g] = w.grad(w.sum(z), [x]);
      expect(await g!.item()).toBe(2);
    });

    it('valueAndGrad follows arrays and objects of tensors and leaves .grad alone', async () => {
      const o = await opts();
      const params = { w: w.tensor([[1, 2], [3, 4]], undefined, o), b: w.tensor([1, -1], [2], o) };
      const x = w.tensor([[1, 1]], undefined, o);
      const f = (p: typeof params, inp: w.Tensor) => w.sum(w.add(w.matmul(inp, p.w), p.b));
      const { value, grads } = w.valueAndGrad(f)(params, x);
      expect(await value.item()).toBe(10);
      const gp = grads[0] as { w: w.Tensor; b: w.Tensor };
      expect(await gp.w.array()).toEqual([[1, 1], [1, 1]]);
      expect(await gp.b.array()).toEqual([1, 1]);
      expect(await (grads[1] as w.Tensor).array()).toEqual([[3, 7]]);
      expect(params.w.grad).toBeNull();
    });

    it('backward of a non-scalar needs a seed; a seed gives the vector-Jacobian product', async () => {
      const o = await opts();
      const x = w.tensor([1, 2], [2], o);
      x.requiresGrad = true;
      const y = w.mul(x, x);
      expect(() => y.backward()).toThrow(/one element/);
      y.backward(w.tensor([1, 10], [2], o));
      expect(Array.from(await x.grad!.data())).toEqual([2, 40]);
    });
  });
}
