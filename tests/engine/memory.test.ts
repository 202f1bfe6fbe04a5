// Memory: tidy scopes free what they do not return, and a training loop holds a flat number of buffers.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { testBackends } from '../setup/backends.ts';

for (const { name, get } of testBackends()) {
  describe(`memory on ${name}`, () => {
    it('tidy disposes intermediates and keeps returned tensors', async () => {
      const backend = await get();
      const before = backend.memoryStats().liveBuffers;
      const x = w.full([4], 0.5, { backend });
      const kept = w.tidy(() => w.exp(w.mul(w.add(x, x), w.add(x, x)))); // exp((2·0.5)²) = e
      expect(backend.memoryStats().liveBuffers).toBe(before + 2);
      expect(Array.from(await kept.data()).map((v) => +v.toFixed(5))).toEqual(Array(4).fill(+Math.E.toFixed(5)));
      w.dispose([x, kept]);
      expect(backend.memoryStats().liveBuffers).toBe(before);
      expect(() => kept.add(1)).toThrow(/disposed/);
    });

    it('200 forward/backward/update steps keep live buffers flat', async () => {
      const backend = await get();
      // A two-layer MLP on a fixed regression problem, plain SGD.
      const W1 = w.randn([8, 16], { backend, seed: 1, std: 0.3 });
      const W2 = w.randn([16, 1], { backend, seed: 2, std: 0.3 });
      const x = w.randn([32, 8], { backend, seed: 3 });
      const y = w.sum(w.sin(x), -1, true);
      for (const p of [W1, W2]) p.requiresGrad = true;
      const counts: number[] = [];
      let first = 0, last = 0;
      for (let step = 0; step < 200; step++) {
        const loss = w.tidy(() => {
          const pred = w.matmul(w.silu(w.matmul(x, W1)), W2);
          const l = w.mean(w.square(w.sub(pred, y)));
          l.backward();
          w.noGrad(() => {
            for (const p of [W1, W2]) { p.assign(w.sub(p, w.mul(p.grad!, 0.1))); p.zeroGrad(); }
          });
          return l;
        });
        if (step === 0) first = await loss.item();
        if (step === 199) last = await loss.item();
        loss.dispose();
        counts.push(backend.memoryStats().liveBuffers);
      }
      expect(new Set(counts.slice(1)).size).toBe(1);
      expect(last).toBeLessThan(first * 0.5); // it really trained
      w.dispose([W1, W2, x, y]);
    });
  });
}
