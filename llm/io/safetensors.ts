// safetensors reader over bytes in memory (browser-safe). The header is validated up front; tensor
// data is converted only when asked for, one tensor at a time, so a caller can stream a large file's
// tensors to the device without ever holding all of them as f32.
// Files on disk: see hf-weights.ts (Node only). Writing: safetensors-writer.ts.
import { FormatError } from './format-error.ts';
import { decodeSafetensor } from './safetensors-decode.ts';
import { parseSafetensorsHeader, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header.ts';
import type { TensorData } from './tensor-data.ts';

export { parseSafetensorsHeader, SAFETENSORS_DTYPE_BYTES } from './safetensors-header.ts';
export type { SafetensorsDtype, SafetensorsHeader, SafetensorsTensorInfo } from './safetensors-header.ts';
export { writeSafetensors } from './safetensors-writer.ts';
export type { SafetensorsWriteTensor, SafetensorsWriteOptions } from './safetensors-writer.ts';

/** A `tensor "x" not found` error that lists what the file does have. */
export function missingTensorError(fileName: string, name: string, available: readonly string[]): FormatError {
  const sample = available.slice(0, 5).map((n) => `"${n}"`).join(', ');
  const more = available.length > 5 ? `, … (${available.length} in all)` : '';
  return new FormatError(fileName, `not found in the file (it has ${available.length ? sample + more : 'no tensors'})`, `tensor "${name}"`);
}

export class SafetensorsReader {
  readonly header: SafetensorsHeader;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, fileName = '<safetensors bytes>') {
    this.header = parseSafetensorsHeader(bytes, bytes.length, fileName);
    this.bytes = bytes;
  }

  get fileName(): string {
    return this.header.fileName;
  }

  get metadata(): Record<string, string> | null {
    return this.header.metadata;
  }

  /** Tensor names in data order. */
  get names(): string[] {
    return this.header.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.header.byName.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.header.byName.get(name);
    if (!info) throw missingTensorError(this.fileName, name, this.names);
    return info;
  }

  /** The tensor's stored bytes, without copying (a view into the file bytes). */
  rawBytes(name: string): Uint8Array {
    const info = this.info(name);
    const start = this.header.dataStart + info.dataOffsets[0];
    return this.bytes.subarray(start, start + info.dataOffsets[1] - info.dataOffsets[0]);
  }

  /** Converts one tensor (f32 for float dtypes, i32 for integer dtypes); the result owns its data. */
  tensor(name: string): TensorData {
    const info = this.info(name);
    return decodeSafetensor(info, this.bytes, this.header.dataStart + info.dataOffsets[0], this.fileName);
  }
}

/** Reads every tensor of an in-memory safetensors file. */
export function readSafetensors(
  bytes: Uint8Array,
  fileName = '<safetensors bytes>',
): { metadata: Record<string, string> | null; tensors: Map<string, TensorData> } {
  const reader = new SafetensorsReader(bytes, fileName);
  const tensors = new Map<string, TensorData>();
  for (const name of reader.names) tensors.set(name, reader.tensor(name));
  return { metadata: reader.metadata, tensors };
}
