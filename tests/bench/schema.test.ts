// The result schema: files wgrad writes and files shaped as bench/reference/torch_bench.py writes
// validate; broken ones fail with an error that names the field and what was expected.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WGRAD_VERSION } from '../../bench/fingerprint.ts';
import { SCHEMA_VERSION, type BenchFile } from '../../bench/schema.ts';
import { validateBenchFile } from '../../bench/validate.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as BenchFile;

/** A deep copy with one change, for the invalid cases. */
function broken(f: BenchFile, edit: (x: any) => void): unknown {
  const copy = structuredClone(f);
  edit(copy);
  return copy;
}

describe('bench result schema v1', () => {
  it('accepts a wgrad file and a PyTorch-shaped file (f32, tf32 and bf16 rows)', () => {
    const w = validateBenchFile(fixture('wgrad-h200.json'));
    expect(w.version).toBe(SCHEMA_VERSION);
    const t = validateBenchFile(fixture('torch-h200.json'), 'torch-h200.json');
    expect(new Set(t.rows.map((r) => r.dtype))).toEqual(new Set(['f32', 'tf32', 'bf16']));
    expect(t.engine.details?.cuda).toBe('12.8');
  });

  const cases: [string, (x: any) => void, RegExp][] = [
    ['wrong schema name', (x) => { x.schema = 'other'; }, /schema: expected "wgrad-bench"/],
    ['newer version', (x) => { x.version = 2; }, /version: expected 1 \(this wgrad reads schema version 1 only\), got 2/],
    ['missing label', (x) => { delete x.label; }, /label: expected a string, got nothing/],
    ['unknown suite', (x) => { x.suites = ['kernels', 'dpo']; }, /suites\[1\]: expected one of kernels, training, generation, got "dpo"/],
    ['bad date', (x) => { x.date = 'yesterday'; }, /date: expected an ISO 8601 date/],
    ['device without features', (x) => { delete x.device.features; }, /device\.features: expected an array/],
    ['non-numeric limit', (x) => { x.device.limits.maxBufferSize = 'big'; }, /device\.limits\.maxBufferSize: expected a finite number, got "big"/],
    ['unknown dtype', (x) => { x.rows[1].dtype = 'fp8'; }, /rows\[1\]\.dtype: expected one of f32, tf32, bf16, f16, got "fp8"/],
    ['negative sample', (x) => { x.rows[0].samplesMs[2] = -1; }, /rows\[0\]\.samplesMs\[2\]: expected a positive number of milliseconds/],
    ['NaN median', (x) => { x.rows[2].stats.medianMs = null; }, /rows\[2\]\.stats\.medianMs: expected a finite number, got null/],
    ['median outside min..max', (x) => { x.rows[0].stats.medianMs = 100; }, /rows\[0\]\.stats: expected minMs ≤ medianMs ≤ maxMs/],
    ['unknown timing method', (x) => { x.rows[0].timing = 'stopwatch'; }, /rows\[0\]\.timing: expected one of gpu-timestamp, wall-clock, cuda-event/],
    ['check without passed', (x) => { delete x.rows[0].check.passed; }, /rows\[0\]\.check\.passed: expected true or false/],
    ['zero inner', (x) => { x.rows[0].inner = 0; }, /rows\[0\]\.inner: expected a number ≥ 1, got 0/],
    ['skipped without reason', (x) => { x.skipped[0].reason = ''; }, /skipped\[0\]\.reason: expected a non-empty string/],
  ];
  for (const [what, edit, message] of cases) {
    it(`rejects a file with ${what}, naming the field`, () => {
      expect(() => validateBenchFile(broken(fixture('wgrad-h200.json'), edit), 'f.json')).toThrow(message);
    });
  }

  it('lists every problem at once and names the file', () => {
    const bad = broken(fixture('torch-h200.json'), (x) => { delete x.runtime; x.rows[0].flops = 'many'; });
    expect(() => validateBenchFile(bad, 'torch.json')).toThrow(/^torch\.json does not match the wgrad-bench schema v1:\n {2}runtime: expected an object, got nothing\n {2}rows\[0\]\.flops: expected a finite number, got "many"$/);
  });

  it('rejects what is not an object', () => {
    expect(() => validateBenchFile([], 'x.json')).toThrow(/^x\.json: expected a wgrad-bench result object, got an array$/);
  });

  it("WGRAD_VERSION is package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(WGRAD_VERSION).toBe(pkg.version);
  });
});
