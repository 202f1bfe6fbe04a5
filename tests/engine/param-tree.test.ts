// MLX's training shape: model.trainableParameters() as a tree, freeze/unfreeze, valueAndGrad(model,
// lossFn) with gradients keyed like the parameters (checked against float64 central differences),
// and optimizer.update(model, grads) (checked against the PyTorch-style backward + step).
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import * as w from '../../engine/index.ts';
import { Linear, Module, SGD, AdamW, type ParamTree, type Tensor } from '../../engine/index.ts';
import { testBackends } from '../setup/backends.ts';

class TwoLayer extends Module {
  readonly l1: Linear;
  readonly l2: Linear;
  constructor(backend: Backend) {
    super();
    this.l1 = this.child('l1', new Linear(3, 4, { bias: true, backend }));
    this.l2 = this.child('l2', new Linear(4, 2, { backend }));
    let seed = 1;
    for (const p of this.parameters()) { p.assign(w.mul(w.randn(p.shape, { backend, seed: seed++ }), 0.5)); p.requiresGrad = true; }
  }
  forward(x: Tensor): Tensor { return this.l2.forward(w.tanh(this.l1.forward(x))); }
}

const loss = (m: Module, x: Tensor) => w.mean(w.square((m as TwoLayer).forward(x)));
const keysOf = (t: ParamTree): unknown => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, 'shape' in v ? (v as Tensor).shape : keysOf(v as ParamTree)]));

for (const { name, get } of testBackends()) {
  describe(`MLX-style training API (${name})`, () => {
    it('trainableParameters is a tree keyed like the model; freeze/unfreeze by name', async () => {
      const m = new TwoLayer(await get());
      expect(keysOf(m.trainableParameters())).toEqual({ l1: { weight: [4, 3], bias: [4] }, l2: { weight: [2, 4] } });
      m.freeze({ keys: ['bias'] });
      expect(keysOf(m.trainableParameters())).toEqual({ l1: { weight: [4, 3] }, l2: { weight: [2, 4] } });
      m.freeze().unfreeze({ keys: ['l2.weight'] });
      expect(keysOf(m.trainableParameters())).toEqual({ l2: { weight: [2, 4] } });
      expect(() => m.freeze({ keys: ['lora_A'] })).toThrow('freeze: no parameter named lora_A (names like l1.weight, l1.bias, l2.weight)');
      m.freeze();
      const x = w.randn([5, 3], { backend: await get(), seed: 9 });
      expect(() => w.valueAndGrad(m, loss)(x)).toThrow('the model has no trainable parameters (all frozen)');
    });

    it('valueAndGrad(model, lossFn) gradients match central finite differences', async () => {
      const backend = await get();
      const m = new TwoLayer(backend);
      m.freeze({ keys: ['l1.bias'] });
      const x = w.randn([5, 3], { backend, seed: 9 });
      const { value, grads } = w.valueAndGrad(m, loss)(x);
      expect(keysOf(grads)).toEqual({ l1: { weight: [4, 3] }, l2: { weight: [2, 4] } });
      expect(m.parameters().every((p) => p.grad === null)).toBe(true); // no .grad touched
      const f = async () => (await w.noGrad(() => loss(m, x)).data())[0];
      expect((await value.data())[0]).toBeCloseTo(await f(), 6);
      const eps = name === 'cpu-f64' ? 1e-6 : 1e-2, tol = name === 'cpu-f64' ? 1e-7 : 2e-3;
      for (const [path, p] of [['l1.weight', m.l1.weight], ['l2.weight', m.l2.weight]] as const) {
        const g = await w.flattenTree(grads).get(path)!.data();
        const base = Float64Array.from(await p.data());
        for (let i = 0; i < base.length; i++) {
          const at = (d: number) => { const v = Float64Array.from(base); v[i] += d; p.assign(w.tensor(v, p.shape, { backend })); };
          at(eps); const up = await f();
          at(-eps); const down = await f();
          at(0);
          expect(Math.abs(g[i] - (up - down) / (2 * eps)), `${path}[${i}]`).toBeLessThan(tol);
        }
      }
    });

    it('optimizer.update(model, grads) is the same step as backward + step; untouched entries are left alone', async () => {
      const backend = await get();
      const [a, b] = [new TwoLayer(backend), new TwoLayer(backend)];
      const x = w.randn([5, 3], { backend, seed: 9 });
      const optA = new AdamW(a.parameters(), { lr: 0.05, weightDecay: 0.1 });
      const optB = new AdamW(b.parameters(), { lr: 0.05, weightDecay: 0.1 });
      for (let step = 0; step < 3; step++) {
        optA.update(a, w.valueAndGrad(a, loss)(x).grads);
        optB.zeroGrad();
        w.backward(loss(b, x));
        optB.step();
      }
      for (const [[n, pa], [, pb]] of a.namedParameters().map((e, i) => [e, b.namedParameters()[i]] as const)) {
        const [da, db] = [await pa.data(), await pb.data()];
        for (let i = 0; i < da.length; i++) expect(da[i], n).toBeCloseTo(db[i], 6);
      }
      // Only l2.weight in the tree: l1 stays as it was.
      const before = Array.from(await a.l1.weight.data());
      const sgd = new SGD(a.parameters(), { lr: 0.1 });
      sgd.update(a, { l2: { weight: w.full([2, 4], 1, { backend }) } });
      expect(Array.from(await a.l1.weight.data())).toEqual(before);
      expect(() => sgd.update(a, { l3: { weight: w.full([2, 4], 1, { backend }) } })).toThrow('optimizer.update: the model has no parameter l3.weight');
    });
  });
}
