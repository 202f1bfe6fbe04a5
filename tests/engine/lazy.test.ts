// Lazy mode's contract (engine/lazy.ts): nothing runs before a value is needed, a chain runs as
// one kernel, intermediates nothing reads get no buffer, pending values read their inputs as they
// were (tidy disposal, assign), kernels respect the binding limit, and a small forward on WebGPU
// takes fewer dispatches lazily than eagerly with bitwise the same values.
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, View } from '../../backends/backend.ts';
import type { Program } from '../../kernels/expr.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import type { WebGPUBackend } from '../../backends/webgpu/backend.ts';
import * as w from '../../engine/index.ts';
import { MAX_BUFFERS } from '../../engine/lazy.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { testBackends } from '../setup/backends.ts';

afterEach(() => w.setMode('eager'));

const f64 = () => createCpuBackend({ precision: 'f64' });
const vals = async (t: Tensor) => Array.from(await t.data());
const count = () => ({ ...w.lazyCounters });
const since = (c0: typeof w.lazyCounters) => ({
  recorded: w.lazyCounters.recorded - c0.recorded, kernels: w.lazyCounters.kernels - c0.kernels,
  written: w.lazyCounters.written - c0.written, inlined: w.lazyCounters.inlined - c0.inlined,
});

describe('lazy mode on cpu', () => {
  it('records a chain without running it, then runs it as one kernel writing only the result', async () => {
    const b = f64();
    const x = w.tensor([0.5, -1, 2, 3], [4], { backend: b }), s = w.tensor([1.5], [1], { backend: b });
    const chain = (t: Tensor) => t.exp().mul(s).sub(1).tanh().square();
    const expected = await vals(chain(x));
    const live0 = b.memoryStats().liveBuffers, c0 = count();
    const y = w.lazy(() => chain(x));
    expect(w.getMode()).toBe('eager');
    expect(w.isPending(y)).toBe(true);
    expect(since(c0)).toEqual({ recorded: 5, kernels: 0, written: 0, inlined: 0 });
    expect(b.memoryStats().liveBuffers, 'nothing allocated yet (the scalar 1 is a cached constant)').toBeLessThanOrEqual(live0 + 1);
    const live1 = b.memoryStats().liveBuffers;
    expect(await vals(y)).toEqual(expected);
    expect(since(c0)).toEqual({ recorded: 5, kernels: 1, written: 1, inlined: 4 });
    expect(b.memoryStats().liveBuffers, 'one buffer: the result; the four intermediates never had one').toBe(live1 + 1);
    expect(w.isPending(y)).toBe(false);
  });

  it('writes the values autograd reads in the same kernel, and the gradient matches eager bitwise (f64)', async () => {
    const b = f64();
    const x = w.tensor([0.5, -1, 2, 3], [2, 2], { backend: b }), u = w.tensor([1, 2], [2], { backend: b });
    const loss = (p: Tensor) => p.sigmoid().mul(u).exp().add(p).sum();
    const gradOf = () => { const p = x.view(x.shape); p.requiresGrad = true; return w.grad(loss(p), [p])[0]!; };
    const eager = await vals(gradOf());
    const c0 = count();
    const lazyGrad = w.lazy(gradOf);
    expect(await vals(lazyGrad)).toEqual(eager);
    const d = since(c0);
    // Forward: sigmoid, mul, exp, add → one kernel also writing sigmoid and exp (their VJPs read y).
    expect(d.kernels).toBeLessThan(d.recorded);
    expect(d.written).toBeGreaterThan(d.kernels);
  });

  it('a pending value reads its inputs as they were: tidy disposes them, assign repoints them', async () => {
    const b = f64();
    const live0 = b.memoryStats().liveBuffers;
    const y = w.lazy(() => w.tidy(() => {
      const a = w.tensor([1, 2, 3], [3], { backend: b });
      return a.mul(a).add(a); // a is disposed when the scope ends
    }));
    expect(w.isPending(y)).toBe(true);
    const p = w.tensor([1, 2, 3], [3], { backend: b });
    const z = w.lazy(() => p.neg());
    const q = w.tensor([7, 8, 9], [3], { backend: b });
    p.assign(q);
    expect(await vals(y)).toEqual([2, 6, 12]);
    expect(await vals(z)).toEqual([-1, -2, -3]);
    expect(await vals(p)).toEqual([7, 8, 9]);
    y.dispose(); z.dispose(); p.dispose(); q.dispose();
    expect(b.memoryStats().liveBuffers, 'the graph let go of every input').toBe(live0);
  });

  it('disposing a pending tensor runs nothing and frees what its graph held', async () => {
    const b = f64();
    const live0 = b.memoryStats().liveBuffers, c0 = count();
    w.tidy(() => { w.lazy(() => w.tensor([1, 2], [2], { backend: b }).exp().sqrt()); });
    expect(since(c0).kernels).toBe(0);
    expect(b.memoryStats().liveBuffers).toBe(live0);
  });

  it('a value used twice by one op, or passed twice to evaluate, is computed once and leaks nothing', async () => {
    for (const b of [f64(), createCpuBackend()]) {
      const live0 = b.memoryStats().liveBuffers;
      const x = w.tensor([1, 2], [2], { backend: b });
      const [y, z] = w.lazy(() => { const e = x.exp(); return [e, e.mul(e)]; });
      w.evaluate(y, y, z);
      expect(await vals(z)).toEqual((await vals(y)).map((v) => (b.precision === 'f64' ? v * v : Math.fround(v * v))));
      w.dispose([x, y, z]);
      expect(b.memoryStats().liveBuffers, b.description).toBe(live0);
    }
  });

  it('evaluate(...) runs same-shape values in one kernel, and broadcast operands first', async () => {
    const b = f64();
    const col = w.tensor([1, 2, 3], [3, 1], { backend: b }), row = w.tensor([10, 20, 30, 40], [1, 4], { backend: b });
    const expect1 = [await vals(col.add(row).mul(2)), await vals(col.add(row).sub(col.exp()))];
    const c0 = count();
    const [p, q] = w.lazy(() => { const s = col.add(row); return [s.mul(2), s.sub(col.exp())]; });
    w.evaluate([p, q]);
    expect(since(c0).kernels).toBe(1);
    expect([await vals(p), await vals(q)]).toEqual(expect1);
    // A [3,1] value the [3,4] result reads, saved for autograd: its own kernel first, then read.
    const c1 = count();
    const g = w.lazy(() => {
      const c = col.view(col.shape); c.requiresGrad = true;
      return w.grad(c.exp().add(row).sum(), [c])[0]!;
    });
    const c = col.view(col.shape);
    expect(await vals(g)).toEqual(await vals(c.exp().mul(4)));
    expect(since(c1).kernels).toBeGreaterThanOrEqual(2);
  });

  it('long chains and many inputs split into kernels within the binding limit, same values', async () => {
    const b = f64();
    let widest = 0;
    const orig = b.elementwise.bind(b);
    (b as { elementwise: Backend['elementwise'] }).elementwise = (prog: Program, inputs: View[], shape: number[]) => {
      widest = Math.max(widest, inputs.length + prog.outputs.length);
      return orig(prog, inputs, shape);
    };
    const xs = Array.from({ length: 13 }, (_, i) => w.tensor([i, i + 0.5], [2], { backend: b }));
    const many = (ts: Tensor[]) => ts.reduce((acc, t) => acc.add(t.mul(0.5)));
    const long = (t: Tensor) => { let r = t; for (let i = 0; i < 200; i++) r = r.mul(1.001).add(0.01); return r; };
    const eager = [await vals(many(xs)), await vals(long(xs[1]))];
    widest = 0;
    const c0 = count();
    const [m, l] = w.lazy(() => [many(xs), long(xs[1])]);
    expect([await vals(m), await vals(l)]).toEqual(eager);
    expect(widest).toBeLessThanOrEqual(MAX_BUFFERS);
    const d = since(c0);
    expect(d.kernels).toBeGreaterThan(2); // split
    expect(d.kernels).toBeLessThan(d.recorded / 10);
  });

  it('an accumulation whose chunks are disposed keeps at most a few of them alive, not all', async () => {
    const peakOf = async (mode: 'eager' | 'lazy') => {
      const b = f64();
      const base = b.memoryStats().liveBytes;
      w.setMode(mode);
      let acc: Tensor | null = null;
      for (let i = 0; i < 24; i++) {
        const next: Tensor = w.tidy(() => {
          const chunk = w.full([256], i * 0.5, { backend: b }); // 2 KiB in f64; disposed when the scope ends
          return acc ? acc.add(chunk) : chunk.mul(1);
        });
        acc?.dispose();
        acc = next;
      }
      w.setMode('eager');
      const total = await vals(acc!);
      acc!.dispose();
      return { peak: b.memoryStats().peakLiveBytes - base, total: total[0] };
    };
    const eager = await peakOf('eager'), lazy = await peakOf('lazy');
    expect(lazy.total).toBe(eager.total);
    expect(lazy.total).toBe(0.5 * (23 * 24) / 2);
    // Eager peaks at 1.5 chunks' bytes here, lazy at 2.5 (MAX_ORPHAN_RATIO allows 2 more); without
    // that bound only the binding limit stopped the chain: 4.5 chunks.
    expect(lazy.peak).toBeLessThanOrEqual(eager.peak + 2 * 256 * 8);
  });

  it("a value reads the same in every kernel: maximum's tie split survives fusion (f64), and cpu f32 does not fuse", async () => {
    // y = max(x·a, clamp(x, 0.5, 2)·a) ties wherever x is inside the clamp: each side gets half
    // the gradient. A value inlined in one kernel and rounded into a buffer in another would break
    // the tie on one side only (cpu f32 computes programs in float64), so there lazy mode defers
    // ops without fusing them.
    for (const b of [f64(), createCpuBackend()]) {
      const x = w.tensor([0.3, 0.7, 1.1, 1.9, 2.5], [5], { backend: b }), a = w.tensor([0.1], [1], { backend: b });
      const f = () => {
        const p = x.view(x.shape); p.requiresGrad = true;
        const y = w.maximum(p.mul(a), w.minimum(w.maximum(p, 0.5), 2).mul(a)).exp();
        return w.grad(y.sum(), [p])[0]!;
      };
      const eager = await vals(f());
      const c0 = count();
      const lazyGrad = w.lazy(f);
      expect(await vals(lazyGrad), b.description).toEqual(eager);
      const d = since(c0);
      if (b.precision === 'f64') expect(d.inlined).toBeGreaterThan(0);
      else expect(d.inlined).toBe(0);
    }
  });

  it('lazy() restores the mode (also when fn throws or is async); init({ mode }) sets it', async () => {
    expect(() => w.lazy(() => { throw new Error('boom'); })).toThrow('boom');
    expect(w.getMode()).toBe('eager');
    const pending = w.lazy(async () => { await Promise.resolve(); return w.getMode(); });
    expect(await pending).toBe('lazy');
    expect(w.getMode()).toBe('eager');
    const prev = w.getBackend();
    await w.init({ backend: 'cpu', mode: 'lazy' });
    expect(w.getMode()).toBe('lazy');
    w.setMode('eager');
    w.setBackend(prev);
    expect(() => w.setMode('fast' as never)).toThrow("expected 'eager' or 'lazy'");
  });
});

// A small forward (SwiGLU MLP, residual, RMS norm written out, a tanh head) on WebGPU: dispatches
// eager vs lazy, from the recorder's counters, and the values bitwise equal (every node is f32 in both).
for (const { name, get } of testBackends().filter((t) => t.name === 'webgpu')) {
  describe(`lazy dispatches on ${name}`, () => {
    it('a small forward takes fewer dispatches lazily, with the same values', async () => {
      const g = (await get()) as WebGPUBackend;
      const r = (shape: number[], seed: number) => w.randn(shape, { seed, std: 0.5, backend: g });
      const x = r([4, 8], 1), w1 = r([8, 16], 2), w2 = r([8, 16], 3), w3 = r([16, 8], 4), gamma = r([8], 5);
      const forward = () => {
        const h = w.silu(w.matmul(x, w1)).mul(w.matmul(x, w2));
        const y = w.matmul(h, w3).add(x);
        const z = y.mul(y.mul(y).mean(-1, true).add(1e-5).rsqrt()).mul(gamma);
        return z.tanh().mul(0.5).add(0.5);
      };
      const run = async (mode: 'eager' | 'lazy') => {
        await g.sync();
        w.setMode(mode);
        const d0 = g.counters.dispatches;
        const out = w.tidy(forward);
        w.evaluate(out);
        const dispatches = g.counters.dispatches - d0;
        w.setMode('eager');
        const v = await vals(out);
        out.dispose();
        return { dispatches, v };
      };
      const eager = await run('eager'), lazy = await run('lazy');
      console.log(`small forward on ${g.description}: ${eager.dispatches} dispatches eager, ${lazy.dispatches} lazy`);
      expect(lazy.v).toEqual(eager.v);
      expect(lazy.dispatches).toBeLessThan(eager.dispatches);
    });
  });
}
