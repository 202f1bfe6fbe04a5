// The op table is complete: every entry has its WGSL kernel, its cpu evaluation, its VJP, its
// engine function, its fluent Tensor method and its test spec (which tests/engine/ops.test.ts
// runs on cpu, cpu-f64 and WebGPU against float64, with finite-difference gradients). Missing
// partials or domains do not even compile (the @ts-expect-error lines below). On WebGPU, a fused
// op's backward pass is one dispatch.
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { evalProgram } from '../../backends/cpu/elementwise.ts';
import type { WebGPUBackend } from '../../backends/webgpu/backend.ts';
import { elementwiseKernel } from '../../kernels/elementwise.ts';
import * as E from '../../kernels/expr.ts';
import * as w from '../../engine/index.ts';
import { Tensor } from '../../engine/tensor.ts';
import type { BinaryEntry, TernaryEntry, UnaryEntry } from '../../engine/ops/op-table.ts';
import { allSpecs } from '../core/ops/specs.ts';
import { testBackends } from '../setup/backends.ts';

type Entry = UnaryEntry | BinaryEntry | TernaryEntry;
const entries: [string, number, Entry][] = [
  ...Object.entries(w.unaryOps).map(([k, e]): [string, number, Entry] => [k, 1, e]),
  ...Object.entries(w.binaryOps).map(([k, e]): [string, number, Entry] => [k, 2, e]),
  ...Object.entries(w.ternaryOps).map(([k, e]): [string, number, Entry] => [k, 3, e]),
];

// Type-level completeness: an entry without partials or without a test domain is rejected.
// @ts-expect-error d (the partial derivatives, or null) is required
const noPartials: UnaryEntry = { f: (x) => x, domain: { lo: 0, hi: 1 } };
// @ts-expect-error domain (where tests draw inputs) is required
const noDomain: UnaryEntry = { f: (x) => x, d: () => [1] };
void noPartials, void noDomain;

describe('op table', () => {
  const api = w as unknown as Record<string, unknown>;
  const proto = Tensor.prototype as unknown as Record<string, unknown>;

  it('lists mish and hardswish, each declared once', () => {
    expect(Object.keys(w.unaryOps)).toEqual(expect.arrayContaining(['mish', 'hardswish', 'log1mexp']));
  });

  for (const [name, arity, e] of entries) {
    it(`${name}: WGSL, cpu, VJP, function, fluent method, test spec`, () => {
      const types: E.ScalarType[] = Array.from({ length: arity }, () => 'f32');
      const xs = types.map((t, i) => E.input(i, t));
      const f = e.f as (...a: E.Expr[]) => E.Expr;
      const prog = E.program([f(...xs)], types);
      const code = elementwiseKernel(prog, 1, false).code;
      expect(code).toMatch(/fn main/);
      expect(code.match(/var<storage, read> X/g)?.length).toBe(arity);
      // cpu: evaluates at a point of the domain.
      const out = new Float64Array(1);
      const point = (d: { lo: number; hi: number }) => new Float64Array([(d.lo + d.hi) / 2]);
      const domains = Array.isArray(e.domain) ? e.domain : [e.domain];
      evalProgram(prog, domains.map((d) => ({ data: point(d), offset: 0, strides: [1] })), [1], [out]);
      expect(Number.isFinite(out[0])).toBe(true);
      // VJP: partials for every input (null only for a condition), or the op is declared without gradient.
      expect(e.d === null || typeof e.d === 'function').toBe(true);
      if (e.d) {
        const partials = (e.d as (...a: E.Expr[]) => unknown[])(...xs, E.input(arity));
        expect(partials).toHaveLength(arity);
        partials.forEach((p, k) => expect(p === null, `${name} partial ${k}`).toBe(arity === 3 && k === 0));
      }
      expect(typeof api[name]).toBe('function');
      expect(typeof proto[name]).toBe('function');
      expect(allSpecs.some((s) => s.name.startsWith(`${name} `)), `no spec for ${name}`).toBe(true);
    });
  }

  it("where's gradient is exact zeros on the side not picked, even for a non-finite incoming gradient", async () => {
    const b = createCpuBackend({ precision: 'f64' });
    const [x, y] = [w.tensor([1, 2], [2], { backend: b }), w.tensor([3, 4], [2], { backend: b })];
    x.requiresGrad = y.requiresGrad = true;
    const out = w.where(w.tensor([1, 0], [2], { backend: b }), x, y);
    const [gx, gy] = w.grad(out, [x, y], w.tensor([Infinity, NaN], [2], { backend: b }));
    expect(Array.from(await gx!.data())).toEqual([Infinity, 0]);
    expect(Array.from(await gy!.data())).toEqual([0, NaN]);
  });

  it('fluent methods call the table op (torch argument order for where)', async () => {
    const b = createCpuBackend({ precision: 'f64' });
    const x = w.tensor([-4, -1, 0.5, 2], [4], { backend: b });
    expect(Array.from(await x.hardswish().data(), (v) => v + 0)).toEqual([0, -1 / 3, 0.5 * 3.5 / 6, 2 * 5 / 6]);
    expect(Array.from(await x.maximum(0).data())).toEqual([0, 0, 0.5, 2]);
    const c = w.tensor([1, 0, 1, 0], [4], { backend: b });
    expect(Array.from(await x.where(c, 9).data())).toEqual([-4, 9, 0.5, 9]);
  });
});

// The fusion itself: forward and backward of a fused op are one dispatch each on WebGPU.
for (const { name, get } of testBackends().filter((t) => t.name === 'webgpu')) {
  describe(`fused dispatches on ${name}`, () => {
    it('gelu_tanh, swiglu, mish and a fused expression: one dispatch forward, one backward', async () => {
      const g = (await get()) as WebGPUBackend;
      const count = (fn: () => void) => { const d0 = g.counters.dispatches; fn(); return g.counters.dispatches - d0; };
      const x = w.tensor([0.5, -1, 2, 3], [4], { backend: g }), u = w.tensor([1, 2, 3, 4], [4], { backend: g });
      const cases: [string, (a: Tensor, b: Tensor) => Tensor][] = [
        ['gelu_tanh', (a) => w.gelu(a, 'tanh')], ['mish', (a) => w.mish(a)], ['swiglu', (a, b) => w.swiglu(a, b)],
        ['fused', (a, b) => w.fused('t', [a, b], (p, q) => E.mul(E.softplus(E.sub(q, p)), E.tanh(p)))],
      ];
      for (const [label, f] of cases) {
        w.tidy(() => {
          const xs = [x, u].map((t) => t.view(t.shape));
          xs.forEach((t) => (t.requiresGrad = true));
          let y: Tensor | null = null;
          expect(count(() => { y = f(xs[0], xs[1]); }), `${label} forward`).toBe(1);
          const seed = w.tensor([1, 1, 1, 1], [4], { backend: g });
          expect(count(() => { w.grad(y!, xs, seed); }), `${label} backward`).toBe(1);
        });
      }
      await g.sync();
    });
  });
}
