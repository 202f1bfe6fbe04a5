// Tensor creation: from host arrays, constants, ranges and seeded random draws.
import type { Backend, DType, Storage } from '../../backends/backend.ts';
import { getBackend } from '../context.ts';
import { Generator, globalGenerator } from '../random.ts';
import { SharedStorage, Tensor, shapeSize, shapeStr } from '../tensor.ts';

export interface CreateOpts { dtype?: DType; backend?: Backend }

/** Wrap a storage the backend just produced. */
export function wrap(s: Storage, shape: readonly number[], dtype: DType = s.dtype): Tensor {
  return new Tensor(new SharedStorage(s), shape, dtype);
}

function checkShape(op: string, shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: shape ${shapeStr(shape)} must hold non-negative integers`);
  }
}

function flatten(v: unknown, shape: number[], out: number[], depth = 0): void {
  if (Array.isArray(v)) {
    if (shape.length <= depth) shape.push(v.length);
    else if (shape[depth] !== v.length) throw new Error(`tensor: ragged nested array (length ${v.length} where ${shape[depth]} was expected at depth ${depth})`);
    for (const x of v) flatten(x, shape, out, depth + 1);
  } else if (typeof v === 'number' || typeof v === 'boolean') {
    if (depth !== shape.length) throw new Error('tensor: ragged nested array (a number where an array was expected)');
    out.push(Number(v));
  } else {
    throw new Error(`tensor: expected numbers or nested arrays of numbers, got ${typeof v}`);
  }
}

/** tensor([[1, 2], [3, 4]]) or tensor(Float32Array, [2, 2]). */
export function tensor(values: unknown, shape?: readonly number[], opts: CreateOpts = {}): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[] = [];
  if (ArrayBuffer.isView(values)) {
    flat = values as unknown as ArrayLike<number>;
    inferred = [flat.length];
  } else if (typeof values === 'number') {
    flat = [values];
  } else {
    const out: number[] = [];
    flatten(values, inferred, out);
    flat = out;
  }
  const s = shape ?? inferred;
  checkShape('tensor', s);
  if (shapeSize(s) !== flat.length) {
    throw new Error(`tensor: ${flat.length} values do not fill shape ${shapeStr(s)} (${shapeSize(s)} elements)`);
  }
  const dtype = opts.dtype ?? (values instanceof Int32Array ? 'i32' : 'f32');
  const b = opts.backend ?? getBackend();
  const t = wrap(b.upload(flat, dtype), s, dtype);
  t.host = dtype === 'i32' ? Int32Array.from(flat) : null;
  return t;
}

export function full(shape: readonly number[], value: number, opts: CreateOpts = {}): Tensor {
  checkShape('full', shape);
  const dtype = opts.dtype ?? 'f32';
  const b = opts.backend ?? getBackend();
  return wrap(b.fill(shapeSize(shape), value, dtype), shape, dtype);
}

export const zeros = (shape: readonly number[], opts: CreateOpts = {}) => full(shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOpts = {}) => full(shape, 1, opts);

/** arange(stop) / arange(start, stop, step); i32 when every argument is an integer. */
export function arange(start: number, stop?: number, step = 1, opts: CreateOpts = {}): Tensor {
  if (stop === undefined) { stop = start; start = 0; }
  if (step === 0) throw new Error('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const ints = [start, stop, step].every(Number.isInteger);
  const dtype = opts.dtype ?? (ints ? 'i32' : 'f32');
  const vals = Array.from({ length: n }, (_, i) => start + i * step);
  return tensor(dtype === 'i32' ? Int32Array.from(vals) : Float32Array.from(vals), [n], { ...opts, dtype });
}

export interface RandOpts extends CreateOpts { seed?: number; generator?: Generator }

function draw(shape: readonly number[], opts: RandOpts, f: (g: Generator) => number): Tensor {
  checkShape('rand', shape);
  const g = opts.generator ?? (opts.seed !== undefined ? new Generator(opts.seed) : globalGenerator());
  const vals = new Float32Array(shapeSize(shape));
  for (let i = 0; i < vals.length; i++) vals[i] = f(g);
  return tensor(vals, shape, { ...opts, dtype: 'f32' });
}

/** Uniform in [low, high). */
export function rand(shape: readonly number[], opts: RandOpts & { low?: number; high?: number } = {}): Tensor {
  const lo = opts.low ?? 0, hi = opts.high ?? 1;
  return draw(shape, opts, (g) => lo + (hi - lo) * g.uniform());
}

export function randn(shape: readonly number[], opts: RandOpts & { mean?: number; std?: number } = {}): Tensor {
  const m = opts.mean ?? 0, s = opts.std ?? 1;
  return draw(shape, opts, (g) => m + s * g.normal());
}

/** Uniform integers in [low, high). */
export function randint(low: number, high: number, shape: readonly number[], opts: RandOpts = {}): Tensor {
  checkShape('randint', shape);
  const g = opts.generator ?? (opts.seed !== undefined ? new Generator(opts.seed) : globalGenerator());
  const vals = new Int32Array(shapeSize(shape));
  for (let i = 0; i < vals.length; i++) vals[i] = low + Math.floor(g.uniform() * (high - low));
  return tensor(vals, shape, { ...opts, dtype: 'i32' });
}
