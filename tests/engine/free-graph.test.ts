// Memory of the backward pass (issue 17, "Memory"): each node's temporaries and each intermediate
// gradient go as soon as they are used, and with { freeGraph } the forward's intermediates go once
// every node reading them has run. Gradients are bitwise those of the default path; what the caller
// holds (leaves, the loss, tensors of outer scopes, a seed) survives.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { backward, noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { loraTrainee, randomBatch } from '../../bench/workloads/lora-sft.ts';
import { TINY } from '../../bench/models.ts';
import { sftLoss } from '../../llm/train/sft.ts';
import { testBackends } from '../setup/backends.ts';

/** A small two-layer graph with a residual (one input read by two nodes) and a shared gradient (x + x). */
function mlpLoss(x: w.Tensor, a: w.Tensor, b: w.Tensor): w.Tensor {
  const h = w.tanh(w.matmul(x, a));
  const r = w.add(h, h);
  const y = w.add(w.matmul(r, b), w.sum(x, [1], true));
  return w.sum(w.mul(y, y));
}

for (const { name, get } of testBackends()) {
  describe(`backward memory on ${name}`, () => {
    it('freeGraph gives bitwise the same gradients, disposes the intermediates, keeps leaves, loss, seed and outer tensors', async () => {
      const backend = await get();
      const x = w.tensor(Array.from({ length: 12 }, (_, i) => Math.sin(i)), [3, 4], { backend });
      const mk = (n: number, s: number) => w.tensor(Array.from({ length: n }, (_, i) => Math.cos(i * s)), n === 20 ? [4, 5] : [5, 2], { backend });
      const grads = async (freeGraph: boolean) => {
        const a = mk(20, 0.7), b = mk(10, 1.3);
        a.requiresGrad = true; b.requiresGrad = true;
        const seed = w.tensor([1.5], [], { backend });
        const outer = w.tanh(w.tensor(Array.from({ length: 15 }, (_, i) => i / 7 - 1), [3, 5], { backend })); // made outside the step's scope: never the step's to free
        let inner: w.Tensor[] = [], loss!: w.Tensor;
        tidy(() => {
          const h = w.matmul(x, a);
          loss = w.add(mlpLoss(x, a, b), w.sum(w.mul(h, outer)));
          inner = [h];
          backward(loss, seed, { freeGraph });
          loss.keep();
        });
        expect(inner[0].isDisposed).toBe(true); // the scope ended either way
        expect(outer.isDisposed).toBe(false);
        expect(seed.isDisposed).toBe(false);
        const out = [await a.grad!.data(), await b.grad!.data(), await loss.data()];
        w.dispose([a, b, seed, outer, loss]);
        return out;
      };
      const off = await grads(false), on = await grads(true);
      on.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(off[i])));
    });

    it('with freeGraph, intermediates are disposed during backward, before the scope ends', async () => {
      const backend = await get();
      const a = w.tensor([0.5, -1, 2, 0.25], [2, 2], { backend });
      a.requiresGrad = true;
      tidy(() => {
        const h = w.tanh(w.mul(a, 3));
        const loss = w.sum(w.mul(h, h));
        backward(loss, null, { freeGraph: true });
        expect(h.isDisposed).toBe(true);
        expect(loss.isDisposed).toBe(false);
        expect(a.isDisposed).toBe(false);
      });
      expect(a.grad).not.toBeNull();
      a.dispose();
    });
  });
}

describe('peak live bytes of a LoRA SFT step (cpu, TINY Llama shape, batch 2 × 16)', () => {
  /** One forward + backward; live bytes at its points and the peak (the backend is fresh per run). */
  async function step(freeGraph: boolean) {
    const backend = createCpuBackend();
    const c = TINY.config, B = 2, T = 16;
    const { m, params } = loraTrainee(c, backend);
    const batch = randomBatch(1, B, T, c.vocabSize);
    const base = backend.memoryStats();
    let afterForward = 0, afterBackward = 0;
    const loss = tidy(() => {
      const l = w.mul(sftLoss(m, batch).lossSum, 1 / batch.lossTokens);
      const value = noGrad(() => w.mul(l, 1)); // read what we need before backward
      afterForward = backend.memoryStats().liveBytes;
      backward(l, null, { freeGraph });
      afterBackward = backend.memoryStats().liveBytes;
      return value;
    });
    const peak = backend.memoryStats().peakLiveBytes;
    const grads = await Promise.all(params.map((p) => p.grad!.data()));
    const paramGradBytes = params.reduce((s, p) => s + 4 * p.size, 0);
    const out = { base, afterForward, afterBackward, peak, grads, loss: await loss.item(), paramGradBytes, c, B, T };
    m.dispose();
    return out;
  }

  it('the backward holds at most the forward, the leaves\' gradients and 3 activation-sized tensors; freeGraph frees the forward', async () => {
    const off = await step(false), on = await step(true);
    expect(off.peak).toBeGreaterThan(off.base.peakLiveBytes); // the step, not model building, sets the peak
    // Bound: during backward live = the forward's tensors (never more than after the forward)
    // + the leaves' gradients + the gradient entering the node running now + the gradient(s) it
    // makes + one gradient waiting on the residual branch, each at most the largest activation
    // ([B·T, vocab] logits here). The old tape (everything alive to the end of tidy) held 7.7×
    // the forward's activations over the base instead (+665 KB at this size, bound +155 KB).
    const { c, B, T } = on;
    const largest = 4 * B * T * Math.max(c.vocabSize, c.intermediateSize, c.hiddenSize);
    for (const r of [off, on]) expect(r.peak).toBeLessThanOrEqual(r.afterForward + r.paramGradBytes + 3 * largest);
    // freeGraph: what is left when backward returns is the base, the gradients and the few
    // tensors without a node (batch ids, the embedding output, rope tables), not the forward.
    expect(on.afterBackward).toBeLessThan(off.afterBackward);
    expect(on.afterBackward - on.base.liveBytes).toBeLessThan((off.afterBackward - off.base.liveBytes) / 2);
    // Same numbers either way.
    expect(on.loss).toBe(off.loss);
    on.grads.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(off.grads[i])));
  });
});
