// Checks one op spec on a backend: forward against the float64 cpu backend, and the gradient
// from the engine's backward against float64 central finite differences. Portable (Node, Deno, browser).
import type { Backend } from '../../../backends/backend.ts';
import { createCpuBackend } from '../../../backends/cpu/index.ts';
import { Generator } from '../../../engine/random.ts';
import { Tensor } from '../../../engine/tensor.ts';
import { tidy } from '../../../engine/memory.ts';
import { valueAndGrad } from '../../../engine/autodiff.ts';
import * as w from '../../../engine/ops/index.ts';
import { allClose } from '../harness.ts';

export interface InputSpec {
  shape: number[];
  /** 'float' uniform in [lo, hi); 'int' integers in [lo, hi) as i32; 'mask' 0/1 floats. */
  kind?: 'float' | 'int' | 'mask';
  lo?: number;
  hi?: number;
  /** Differentiate w.r.t. this input (default: float inputs of differentiable specs). */
  grad?: boolean;
}

export interface OpSpec {
  name: string;
  inputs: InputSpec[];
  fn: (xs: Tensor[]) => Tensor;
  /** false for ops without a gradient (comparisons, argmax, integer ops). */
  grad?: boolean;
  atol?: number;
  rtol?: number;
  /** Tolerance of f32 backends' gradients against float64 finite differences. */
  gradTol?: number;
}

const cpu64 = createCpuBackend({ precision: 'f64' });

function makeInputs(spec: OpSpec, g: Generator): number[][] {
  return spec.inputs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const lo = s.lo ?? -2, hi = s.hi ?? 2;
    return Array.from({ length: n }, () => {
      if (s.kind === 'int') return lo + Math.floor(g.uniform() * (hi - lo));
      if (s.kind === 'mask') return g.uniform() < 0.5 ? 0 : 1;
      return Math.fround(lo + (hi - lo) * g.uniform()); // representable in f32: both backends see the same value
    });
  });
}

function upload(spec: OpSpec, vals: number[][], backend: Backend): Tensor[] {
  return spec.inputs.map((s, i) =>
    w.tensor(s.kind === 'int' ? Int32Array.from(vals[i]) : Float64Array.from(vals[i]), s.shape, {
      backend, dtype: s.kind === 'int' ? 'i32' : 'f32',
    }));
}

function differentiable(spec: OpSpec): number[] {
  if (spec.grad === false) return [];
  return spec.inputs.map((s, i) => ((s.grad ?? (s.kind ?? 'float') === 'float') ? i : -1)).filter((i) => i >= 0);
}

/** L(x) = Σ fn(x)·R with fixed random R, so every output element's gradient matters. */
function weightedLoss(spec: OpSpec, R: Tensor) {
  return (...xs: Tensor[]) => w.sum(w.mul(spec.fn(xs), R));
}

export async function checkOp(spec: OpSpec, backend: Backend, seed: number): Promise<void> {
  const g = new Generator(seed);
  const vals = makeInputs(spec, g);
  const label = `${spec.name} on ${backend.description} (seed ${seed}; replay with WGRAD_TEST_SEED=${seed})`;
  // Forward.
  const [ref, refShape] = await evalOn(spec, vals, cpu64);
  const [got, gotShape] = await evalOn(spec, vals, backend);
  if (refShape.join() !== gotShape.join()) throw new Error(`${label}: shape [${gotShape}] vs reference [${refShape}]`);
  const f32 = backend.precision === 'f32';
  allClose(got, ref, { atol: spec.atol ?? (f32 ? 1e-4 : 1e-10), rtol: spec.rtol ?? (f32 ? 1e-4 : 1e-10), label: `${label} forward`, shape: refShape });

  const wrt = differentiable(spec);
  if (!wrt.length) return;
  const rVals = Array.from({ length: ref.length }, () => Math.fround(g.uniform() * 2 - 1));
  // Analytical gradient on the backend under test.
  const analytic = await gradOn(spec, vals, rVals, refShape, backend, wrt);
  // Central differences in float64.
  const h = 1e-6;
  for (const i of wrt) {
    const fd = new Float64Array(vals[i].length);
    for (let j = 0; j < vals[i].length; j++) {
      const v = vals[i][j];
      vals[i][j] = v + h; const lp = await lossOn(spec, vals, rVals, refShape);
      vals[i][j] = v - h; const lm = await lossOn(spec, vals, rVals, refShape);
      vals[i][j] = v;
      fd[j] = (lp - lm) / (2 * h);
    }
    const tol = f32 ? (spec.gradTol ?? 2e-3) : 1e-6;
    allClose(analytic[wrt.indexOf(i)], fd, { atol: tol, rtol: tol, label: `${label} d/d input ${i}`, shape: spec.inputs[i].shape });
  }
}

async function evalOn(spec: OpSpec, vals: number[][], backend: Backend): Promise<[ArrayLike<number>, number[]]> {
  const out = tidy(() => spec.fn(upload(spec, vals, backend)));
  const data = await out.data();
  const shape = [...out.shape];
  out.dispose();
  return [data, shape];
}

async function lossOn(spec: OpSpec, vals: number[][], rVals: number[], shape: number[]): Promise<number> {
  const l = tidy(() => weightedLoss(spec, w.tensor(Float64Array.from(rVals), shape, { backend: cpu64 }))(...upload(spec, vals, cpu64)));
  const v = await l.item();
  l.dispose();
  return v;
}

async function gradOn(spec: OpSpec, vals: number[][], rVals: number[], shape: number[], backend: Backend, wrt: number[]) {
  const grads = tidy(() => {
    const xs = upload(spec, vals, backend);
    const R = w.tensor(Float64Array.from(rVals), shape, { backend });
    const { grads } = valueAndGrad((...ts: Tensor[]) => weightedLoss(spec, R)(...ts.map((t, i) => (wrt.includes(i) ? t : xs[i]))))(...xs);
    return wrt.map((i) => grads[i] as Tensor);
  });
  const out = await Promise.all(grads.map((t) => t.data()));
  grads.forEach((t) => t.dispose());
  return out;
}
