// Exact tensor comparison for tests: same name/dtype/shape and bit-identical data (vitest's deep
// equality walks typed arrays element by element, which is slow on real weights).
import { expect } from 'vitest';
import type { TensorData } from '../../llm/io/tensor-data.ts';

function bytesOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function expectSameData(actual: Float32Array | Int32Array, expected: Float32Array | Int32Array, what: string): void {
  expect(actual.constructor, `${what}: array type`).toBe(expected.constructor);
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expect(Buffer.compare(bytesOf(actual), bytesOf(expected)), `${what}: data differs`).toBe(0);
}

export function expectSameTensor(actual: TensorData | undefined, expected: TensorData, what = expected.name): void {
  expect(actual, `${what}: missing`).toBeDefined();
  expect({ name: actual!.name, dtype: actual!.dtype, shape: actual!.shape }, what).toEqual({
    name: expected.name,
    dtype: expected.dtype,
    shape: expected.shape,
  });
  expectSameData(actual!.data, expected.data, what);
}
