// Optimizers against float64 re-derivations of PyTorch's update rules, schedules, clipping.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { AdamW } from '../../engine/optim/adamw.ts';
import { SGD } from '../../engine/optim/sgd.ts';
import { Lion } from '../../engine/optim/lion.ts';
import { lrAt } from '../../engine/optim/schedule.ts';
import { clipGradNorm } from '../../engine/optim/clip.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

const p0 = [0.5, -1.25, 2, 0.1];
const grads = [[0.1, -0.2, 0.3, 0.05], [-0.4, 0.1, 0.2, 0], [0.3, 0.3, -0.1, 1.5]];

/** Runs 3 steps of opt on a parameter with fixed gradients. */
async function run(backend: w.Backend, make: (ps: w.Tensor[]) => { step(): void; dispose(): void }) {
  const p = w.tensor(p0, [4], { backend });
  const opt = make([p]);
  for (const g of grads) {
    p.grad = w.tensor(g, [4], { backend }).keep();
    opt.step();
    p.zeroGrad();
  }
  const out = await p.data();
  opt.dispose(); p.dispose();
  return out;
}

function refAdamW(lr: number, b1: number, b2: number, eps: number, wd: number) {
  const p = [...p0], m = [0, 0, 0, 0], v = [0, 0, 0, 0];
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < 4; i++) {
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mh = m[i] / (1 - b1 ** t), vh = v[i] / (1 - b2 ** t);
      p[i] -= lr * mh / (Math.sqrt(vh) + eps);
    }
  });
  return p;
}

for (const { name, get } of testBackends()) {
  describe(`optimizers on ${name}`, () => {
    it('AdamW matches PyTorch\'s update', async () => {
      const got = await run(await get(), (ps) => new AdamW(ps, { lr: 0.1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1 }));
      allClose(got, refAdamW(0.1, 0.9, 0.99, 1e-8, 0.1), { atol: 1e-6, rtol: 1e-5 });
    });

    it('AdamW updates in place but leaves a view of a parameter with the old values (copy-on-write)', async () => {
      const backend = await get();
      const p = w.tensor(p0, [4], { backend });
      const view = p.view([2, 2]);
      const opt = new AdamW([p], { lr: 0.1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1 });
      for (const g of grads) {
        p.grad = w.tensor(g, [4], { backend }).keep();
        opt.step();
        p.zeroGrad();
      }
      expect(p.storageShared).toBe(false);
      expect(p.host).toBeNull();
      allClose(await p.data(), refAdamW(0.1, 0.9, 0.99, 1e-8, 0.1), { atol: 1e-6, rtol: 1e-5 });
      allClose(await view.data(), p0, { atol: 1e-7, rtol: 0 });
      opt.dispose(); p.dispose(); view.dispose();
    });

    it('SGD with Nesterov momentum and weight decay matches PyTorch\'s update', async () => {
      const got = await run(await get(), (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }));
      const p = [...p0], buf = [0, 0, 0, 0];
      grads.forEach((g, s) => {
        for (let i = 0; i < 4; i++) {
          const d = g[i] + 0.01 * p[i];
          buf[i] = s === 0 ? d : 0.9 * buf[i] + d;
          p[i] -= 0.1 * (d + 0.9 * buf[i]);
        }
      });
      allClose(got, p, { atol: 1e-6, rtol: 1e-5 });
    });

    it('Lion matches its published update', async () => {
      const got = await run(await get(), (ps) => new Lion(ps, { lr: 0.01, betas: [0.9, 0.99], weightDecay: 0.5 }));
      const p = [...p0], m = [0, 0, 0, 0];
      grads.forEach((g) => {
        for (let i = 0; i < 4; i++) {
          const c = 0.9 * m[i] + 0.1 * g[i];
          p[i] = p[i] * (1 - 0.01 * 0.5) - 0.01 * Math.sign(c);
          m[i] = 0.99 * m[i] + 0.01 * g[i];
        }
      });
      allClose(got, p, { atol: 1e-6, rtol: 1e-5 });
    });

    it('clipGradNorm scales gradients to the max norm and returns the norm before clipping', async () => {
      const backend = await get();
      const a = w.tensor([3, 0], [2], { backend }), b = w.tensor([4], [1], { backend });
      a.grad = w.tensor([3, 0], [2], { backend }).keep();
      b.grad = w.tensor([4], [1], { backend }).keep();
      const norm = clipGradNorm([a, b], 1);
      expect(await norm.item()).toBeCloseTo(5, 5);
      allClose([...await a.grad.data(), ...await b.grad.data()], [0.6, 0, 0.8], { atol: 1e-5 });
      w.dispose([a, b, norm]);
    });
  });
}

describe('learning-rate schedules', () => {
  it('warmup, then constant / linear / cosine decay (transformers\' definitions)', () => {
    const o = { baseLr: 1, warmupSteps: 10, totalSteps: 110 };
    expect(lrAt(5, { ...o, kind: 'cosine' })).toBeCloseTo(0.5);
    expect(lrAt(10, { ...o, kind: 'cosine' })).toBeCloseTo(1);
    expect(lrAt(60, { ...o, kind: 'cosine' })).toBeCloseTo(0.5);
    expect(lrAt(110, { ...o, kind: 'cosine' })).toBeCloseTo(0);
    expect(lrAt(60, { ...o, kind: 'linear' })).toBeCloseTo(0.5);
    expect(lrAt(85, { ...o, kind: 'linear' })).toBeCloseTo(0.25);
    expect(lrAt(100, { ...o, kind: 'constant' })).toBe(1);
  });
});

describe('AdamW hyperparameters', () => {
  it('are checked where the optimizer is made (the fused step takes them as given)', () => {
    const p = [w.zeros([2])];
    expect(() => new AdamW(p, { betas: [0.9, 1] })).toThrow('AdamW: betas (0.9, 1) must lie in [0, 1)');
    expect(() => new AdamW(p, { betas: [-0.1, 0.999] })).toThrow('AdamW: betas (-0.1, 0.999) must lie in [0, 1)');
    expect(() => new AdamW(p, { lr: NaN })).toThrow('AdamW: lr NaN must be a finite number');
    expect(() => new AdamW(p, { eps: Infinity })).toThrow('AdamW: eps Infinity must be a finite number');
  });
});
