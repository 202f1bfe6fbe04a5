// The whole op suite in lazy mode (engine/lazy.ts), on every backend:
//  1. the suite's own check (tests/core/ops/check.ts: forward against the float64 cpu backend,
//     gradients against float64 finite differences) with every op recorded lazily;
//  2. lazy against eager on the same backend, forward and gradients of Σ f(x)·R: bitwise equal.
//     Fused kernels compute the same float sequence as eager's separate ones on WebGPU (f32 nodes)
//     and cpu-f64; on cpu f32 lazy mode defers ops without fusing them (see engine/lazy.ts).
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import * as w from '../../engine/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { checkOp, type OpSpec } from '../core/ops/check.ts';
import { allSpecs } from '../core/ops/specs.ts';
import { testSeed } from '../core/ops/seed.ts';
import { testBackends } from '../setup/backends.ts';

afterEach(() => w.setMode('eager'));

/** Inputs drawn from the spec's domains (f32-representable), and the weights R of the loss. */
function draw(spec: OpSpec, seed: number, outSize: number) {
  const g = new w.Generator(seed);
  const xs = spec.inputs.map((s) => Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => {
    const lo = s.lo ?? -2, hi = s.hi ?? 2;
    if (s.kind === 'int') return lo + Math.floor(g.uniform() * (hi - lo));
    if (s.kind === 'mask') return g.uniform() < 0.5 ? 0 : 1;
    return Math.fround(lo + (hi - lo) * g.uniform());
  }));
  const r = Array.from({ length: outSize }, () => Math.fround(g.uniform() * 2 - 1));
  return { xs, r };
}

/** Forward values and the gradients of Σ f(x)·R in one mode; counts what lazy mode recorded and fused. */
async function runIn(mode: 'eager' | 'lazy', spec: OpSpec, b: Backend, seed: number) {
  w.setMode(mode);
  const probe = w.tidy(() => spec.fn(upload(spec, draw(spec, seed, 0).xs, b)));
  const outSize = probe.size;
  probe.dispose();
  const { xs, r } = draw(spec, seed, outSize);
  const c0 = { ...w.lazyCounters };
  const result = w.tidy(() => {
    const ts = upload(spec, xs, b);
    const wrt = spec.grad === false ? [] : ts.filter((t, i) => t.dtype === 'f32' && (spec.inputs[i].grad ?? (spec.inputs[i].kind ?? 'float') === 'float'));
    wrt.forEach((t) => (t.requiresGrad = true));
    const y = spec.fn(ts);
    const R = w.tensor(Float64Array.from(r), y.shape, { backend: b });
    const grads = wrt.length ? w.grad(w.sum(w.mul(y, R)), wrt) : [];
    return [y, ...grads.map((g) => g!)];
  });
  const values = await Promise.all(result.map((t) => t.data()));
  result.forEach((t) => t.dispose());
  w.setMode('eager');
  const recorded = w.lazyCounters.recorded - c0.recorded;
  return { values, recorded, inlined: w.lazyCounters.inlined - c0.inlined };
}

function upload(spec: OpSpec, vals: number[][], backend: Backend): Tensor[] {
  return spec.inputs.map((s, i) => w.tensor(s.kind === 'int' ? Int32Array.from(vals[i]) : Float64Array.from(vals[i]), s.shape,
    { backend, dtype: s.kind === 'int' ? 'i32' : 'f32' }));
}

for (const { name, get } of testBackends()) {
  describe(`op suite in lazy mode on ${name}`, () => {
    for (const spec of allSpecs) {
      it(spec.name, async () => {
        const b = await get(), seed = testSeed();
        w.setMode('lazy');
        await checkOp(spec, b, seed);
        w.setMode('eager');
        const eager = await runIn('eager', spec, b, seed);
        const lazy = await runIn('lazy', spec, b, seed);
        expect(lazy.values.length).toBe(eager.values.length);
        expect(lazy.recorded, 'ops recorded lazily (the loss multiplies by R at least)').toBeGreaterThan(0);
        if (name === 'cpu') expect(lazy.inlined, 'cpu f32 defers but does not fuse').toBe(0);
        lazy.values.forEach((v, k) => {
          const what = `${spec.name} on ${name}, ${k === 0 ? 'forward' : `gradient ${k - 1}`}`;
          expect(Array.from(v), what).toEqual(Array.from(eager.values[k]));
        });
      });
    }
  });
}
