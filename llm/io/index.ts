// Model file formats as plain host data ({ name, dtype, shape, data }); nothing here needs the engine.
// Browser-safe: the by-path functions load node:fs lazily and fail clearly where it does not exist.
export type { FloatTensorData, IntTensorData, TensorData } from './tensor-data.ts';
export { numel } from './tensor-data.ts';
export { FormatError } from './format-error.ts';
export {
  parseSafetensorsHeader,
  readSafetensors,
  SafetensorsReader,
  SAFETENSORS_DTYPE_BYTES,
  writeSafetensors,
} from './safetensors.ts';
export type {
  SafetensorsDtype,
  SafetensorsHeader,
  SafetensorsTensorInfo,
  SafetensorsWriteOptions,
  SafetensorsWriteTensor,
} from './safetensors.ts';
export { openHfWeights, readSafetensorsFile, SafetensorsFile, ShardedSafetensors } from './hf-weights.ts';
export type { WeightSource } from './hf-weights.ts';
export { readLlama2cCheckpoint, readLlama2cCheckpointFile } from './llama2c.ts';
export type { HfLlamaConfig, Llama2cCheckpoint, Llama2cConfig, Llama2cReadOptions } from './llama2c.ts';
export { interleavedToRotateHalf, rotateHalfToInterleaved } from './rope-layout.ts';
export type { RopeLayout } from './rope-layout.ts';
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './half.ts';
export { loadControlVector, readControlVector, readGguf, saveControlVector, writeControlVector, writeGguf } from './gguf.ts';
export type { ControlVector, GgufFile, GgufKv, GgufTensor, GgufValue } from './gguf.ts';
export { setFileSystem, fileSystem, nodeFileSystem } from './node-fs.ts';
export type { FileSystem } from './node-fs.ts';
export { MemoryFileSystem } from './memory-fs.ts';
