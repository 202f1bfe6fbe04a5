// Validation of a benchmark file against bench/schema.ts. Errors name the file and the field path
// ("rows[3].stats.medianMs") and say what was expected, so a hand-edited or foreign (PyTorch) file
// that drifted from the schema fails loudly instead of rendering nonsense.
import {
  DTYPES, MODES, SCHEMA_NAME, SCHEMA_VERSION, SUITES, TIMING_METHODS, type BenchFile,
} from './schema.ts';

export class BenchSchemaError extends Error {
  override name = 'BenchSchemaError';
}

type Obj = Record<string, unknown>;

class Checker {
  readonly errors: string[] = [];

  fail(path: string, expected: string, got: unknown): void {
    const shown = got === undefined ? 'nothing' : JSON.stringify(got)?.slice(0, 80);
    this.errors.push(`${path}: expected ${expected}, got ${shown}`);
  }

  obj(v: unknown, path: string): Obj | null {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Obj;
    this.fail(path, 'an object', v);
    return null;
  }

  str(o: Obj, k: string, path: string, opts: { optional?: boolean; oneOf?: readonly string[]; nonEmpty?: boolean } = {}): void {
    const v = o[k];
    if (v === undefined && opts.optional) return;
    if (typeof v !== 'string') return this.fail(`${path}.${k}`, 'a string', v);
    if (opts.nonEmpty && v.length === 0) return this.fail(`${path}.${k}`, 'a non-empty string', v);
    if (opts.oneOf && !opts.oneOf.includes(v)) this.fail(`${path}.${k}`, `one of ${opts.oneOf.join(', ')}`, v);
  }

  num(o: Obj, k: string, path: string, opts: { optional?: boolean; min?: number; int?: boolean } = {}): void {
    const v = o[k];
    if (v === undefined && opts.optional) return;
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.fail(`${path}.${k}`, 'a finite number', v);
    if (opts.min !== undefined && v < opts.min) this.fail(`${path}.${k}`, `a number ≥ ${opts.min}`, v);
    if (opts.int && !Number.isInteger(v)) this.fail(`${path}.${k}`, 'an integer', v);
  }

  bool(o: Obj, k: string, path: string): void {
    if (typeof o[k] !== 'boolean') this.fail(`${path}.${k}`, 'true or false', o[k]);
  }

  arr(o: Obj, k: string, path: string, optional = false): unknown[] | null {
    const v = o[k];
    if (v === undefined && optional) return null;
    if (Array.isArray(v)) return v;
    this.fail(`${path}.${k}`, 'an array', v);
    return null;
  }

  record(o: Obj, k: string, path: string, values: 'number' | 'string' | 'number|string', optional = false): void {
    const v = o[k];
    if (v === undefined && optional) return;
    const r = this.obj(v, `${path}.${k}`);
    if (!r) return;
    for (const [key, x] of Object.entries(r)) {
      const ok = (values.includes('number') && typeof x === 'number' && Number.isFinite(x)) || (values.includes('string') && typeof x === 'string');
      if (!ok) this.fail(`${path}.${k}.${key}`, values === 'number' ? 'a finite number' : values === 'string' ? 'a string' : 'a number or string', x);
    }
  }
}

function checkRow(c: Checker, v: unknown, path: string): void {
  const r = c.obj(v, path);
  if (!r) return;
  c.str(r, 'id', path, { nonEmpty: true });
  c.str(r, 'suite', path, { oneOf: SUITES });
  c.str(r, 'op', path, { nonEmpty: true });
  c.str(r, 'dtype', path, { oneOf: DTYPES });
  c.record(r, 'shape', path, 'number|string');
  c.num(r, 'flops', path, { min: 0 });
  c.num(r, 'bytes', path, { min: 0 });
  c.str(r, 'impl', path);
  c.str(r, 'timing', path, { oneOf: TIMING_METHODS });
  c.num(r, 'warmup', path, { min: 0, int: true });
  c.num(r, 'inner', path, { min: 1, int: true });
  const samples = c.arr(r, 'samplesMs', path);
  if (samples) {
    if (samples.length === 0) c.fail(`${path}.samplesMs`, 'at least one sample', samples);
    samples.forEach((s, i) => {
      if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(s)) c.fail(`${path}.samplesMs[${i}]`, 'a positive number of milliseconds', s);
    });
  }
  const stats = c.obj(r.stats, `${path}.stats`);
  if (stats) {
    for (const k of ['medianMs', 'minMs', 'maxMs', 'meanMs']) c.num(stats, k, `${path}.stats`, { min: Number.MIN_VALUE });
    c.num(stats, 'stdevMs', `${path}.stats`, { min: 0 });
    if (typeof stats.minMs === 'number' && typeof stats.medianMs === 'number' && typeof stats.maxMs === 'number' &&
      !(stats.minMs <= stats.medianMs && stats.medianMs <= stats.maxMs)) {
      c.fail(`${path}.stats`, 'minMs ≤ medianMs ≤ maxMs', stats);
    }
  }
  c.num(r, 'tflops', path, { min: 0 });
  c.num(r, 'gbps', path, { min: 0 });
  if (r.check !== undefined) {
    const k = c.obj(r.check, `${path}.check`);
    if (k) {
      c.str(k, 'reference', `${path}.check`, { nonEmpty: true });
      c.record(k, 'shape', `${path}.check`, 'number');
      c.num(k, 'maxError', `${path}.check`, { min: 0 });
      c.num(k, 'tolerance', `${path}.check`, { min: 0 });
      c.bool(k, 'passed', `${path}.check`);
    }
  }
  c.record(r, 'metrics', path, 'number', true);
  c.str(r, 'note', path, { optional: true });
}

/** Check `json` against schema version 1; returns it typed, or throws one error listing every problem. */
export function validateBenchFile(json: unknown, source = 'benchmark file'): BenchFile {
  const c = new Checker();
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new BenchSchemaError(`${source}: expected a wgrad-bench result object, got ${Array.isArray(json) ? 'an array' : JSON.stringify(json)?.slice(0, 40)}`);
  }
  const f = json as Obj;
  if (f.schema !== SCHEMA_NAME) c.fail('schema', `"${SCHEMA_NAME}"`, f.schema);
  if (f.version !== SCHEMA_VERSION) {
    c.fail('version', `${SCHEMA_VERSION} (this wgrad reads schema version ${SCHEMA_VERSION} only)`, f.version);
  }
  c.str(f, 'label', '', { nonEmpty: true });
  const suites = c.arr(f, 'suites', '');
  suites?.forEach((s, i) => {
    if (!(SUITES as readonly unknown[]).includes(s)) c.fail(`suites[${i}]`, `one of ${SUITES.join(', ')}`, s);
  });
  c.str(f, 'mode', '', { oneOf: MODES });
  c.str(f, 'date', '', { nonEmpty: true });
  if (typeof f.date === 'string' && Number.isNaN(Date.parse(f.date))) c.fail('date', 'an ISO 8601 date', f.date);
  const engine = c.obj(f.engine, 'engine');
  if (engine) {
    c.str(engine, 'name', 'engine', { nonEmpty: true });
    c.str(engine, 'version', 'engine');
    c.str(engine, 'commit', 'engine', { optional: true });
    c.record(engine, 'details', 'engine', 'string', true);
  }
  const runtime = c.obj(f.runtime, 'runtime');
  if (runtime) {
    c.str(runtime, 'name', 'runtime', { nonEmpty: true });
    c.str(runtime, 'version', 'runtime');
    c.str(runtime, 'userAgent', 'runtime', { optional: true });
  }
  const device = c.obj(f.device, 'device');
  if (device) {
    c.str(device, 'backend', 'device', { nonEmpty: true });
    c.str(device, 'name', 'device', { nonEmpty: true });
    if (device.adapter !== null) {
      const a = c.obj(device.adapter, 'device.adapter');
      if (a) for (const k of ['vendor', 'architecture', 'device', 'description']) c.str(a, k, 'device.adapter');
    }
    const features = c.arr(device, 'features', 'device');
    features?.forEach((x, i) => { if (typeof x !== 'string') c.fail(`device.features[${i}]`, 'a string', x); });
    c.record(device, 'limits', 'device', 'number');
  }
  const rows = c.arr(f, 'rows', '');
  rows?.forEach((r, i) => checkRow(c, r, `rows[${i}]`));
  const skipped = c.arr(f, 'skipped', '');
  skipped?.forEach((s, i) => {
    const o = c.obj(s, `skipped[${i}]`);
    if (!o) return;
    c.str(o, 'id', `skipped[${i}]`, { nonEmpty: true });
    c.str(o, 'dtype', `skipped[${i}]`, { oneOf: DTYPES });
    c.str(o, 'suite', `skipped[${i}]`, { oneOf: SUITES });
    c.str(o, 'reason', `skipped[${i}]`, { nonEmpty: true });
  });
  if (c.errors.length) {
    const shown = c.errors.slice(0, 20).map((e) => `  ${e.replace(/^\./, '')}`).join('\n');
    const more = c.errors.length > 20 ? `\n  ... and ${c.errors.length - 20} more` : '';
    throw new BenchSchemaError(`${source} does not match the wgrad-bench schema v${SCHEMA_VERSION}:\n${shown}${more}`);
  }
  return json as BenchFile;
}
