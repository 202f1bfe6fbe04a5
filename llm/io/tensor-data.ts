// Plain host-side tensors: what the file readers produce and the writers consume. The model code
// uploads these to a backend later; nothing here knows about the engine's Tensor.

/** A float tensor; F64/F32/F16/BF16 files all arrive as f32. */
export interface FloatTensorData {
  name: string;
  dtype: 'f32';
  shape: number[];
  data: Float32Array;
  /** The dtype stored in the file (e.g. 'BF16'), for callers that want to write it back the same way. */
  sourceDtype?: string;
}

/** An integer tensor; I8..I64, U8..U64 and BOOL files arrive as i32 (range-checked). */
export interface IntTensorData {
  name: string;
  dtype: 'i32';
  shape: number[];
  data: Int32Array;
  sourceDtype?: string;
}

export type TensorData = FloatTensorData | IntTensorData;

/** Product of a shape; [] (a scalar) has one element. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
