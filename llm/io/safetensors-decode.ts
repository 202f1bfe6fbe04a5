// Turns one safetensors tensor's raw little-endian bytes into host data: float dtypes to
// Float32Array, integer dtypes to Int32Array (values outside int32 are an error, never wrapped).
import { FormatError } from './format-error.ts';
import { decodeBf16, decodeF16 } from './half.ts';
import { readF32Array, readF64AsF32Array, readI32Array } from './little-endian.ts';
import type { SafetensorsTensorInfo } from './safetensors-header.ts';
import { numel, type TensorData } from './tensor-data.ts';

/** `bytes[offset ..]` holds exactly the tensor's data (info.dataOffsets[1] - info.dataOffsets[0] bytes). */
export function decodeSafetensor(info: SafetensorsTensorInfo, bytes: Uint8Array, offset: number, fileName: string): TensorData {
  const n = numel(info.shape);
  const base = { name: info.name, shape: [...info.shape], sourceDtype: info.dtype };
  const field = `tensor "${info.name}"`;
  if (offset < 0 || offset + (info.dataOffsets[1] - info.dataOffsets[0]) > bytes.length) {
    throw new FormatError(fileName, `byte range [${offset}, ${offset + info.dataOffsets[1] - info.dataOffsets[0]}) is outside the ${bytes.length} bytes given`, field);
  }
  switch (info.dtype) {
    case 'F32':
      return { ...base, dtype: 'f32', data: readF32Array(bytes, offset, n) };
    case 'F16':
      return { ...base, dtype: 'f32', data: decodeF16(bytes, offset, n) };
    case 'BF16':
      return { ...base, dtype: 'f32', data: decodeBf16(bytes, offset, n) };
    case 'F64':
      return { ...base, dtype: 'f32', data: readF64AsF32Array(bytes, offset, n) };
    case 'I32':
      return { ...base, dtype: 'i32', data: readI32Array(bytes, offset, n) };
    case 'I64':
    case 'U64':
    case 'U32':
    case 'I16':
    case 'U16':
    case 'I8':
    case 'U8':
    case 'BOOL':
      return { ...base, dtype: 'i32', data: decodeIntegers(info, bytes, offset, n, fileName) };
    default:
      throw new FormatError(fileName, `dtype ${info.dtype} cannot be converted to f32 or i32 (supported: F64, F32, F16, BF16 and the integer dtypes)`, field);
  }
}

function decodeIntegers(info: SafetensorsTensorInfo, bytes: Uint8Array, offset: number, n: number, fileName: string): Int32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int32Array(n);
  const outOfRange = (i: number, v: number | bigint): never => {
    throw new FormatError(fileName, `element ${i} = ${v} does not fit in int32 (${info.dtype} is converted to i32)`, `tensor "${info.name}"`);
  };
  switch (info.dtype) {
    case 'I64':
    case 'U64':
      for (let i = 0, p = offset; i < n; i++, p += 8) {
        const lo = dv.getInt32(p, true);
        const hi = dv.getInt32(p + 4, true);
        // An int64 fits in int32 iff its high word is the sign extension of its low word; for
        // u64 the value must also be non-negative as an int32.
        if (hi !== lo >> 31 || (info.dtype === 'U64' && lo < 0)) {
          outOfRange(i, info.dtype === 'I64' ? dv.getBigInt64(p, true) : dv.getBigUint64(p, true));
        }
        out[i] = lo;
      }
      return out;
    case 'U32':
      for (let i = 0, p = offset; i < n; i++, p += 4) {
        const v = dv.getUint32(p, true);
        if (v > 0x7fffffff) outOfRange(i, v);
        out[i] = v;
      }
      return out;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(offset + 2 * i, true);
      return out;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(offset + 2 * i, true);
      return out;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(offset + i);
      return out;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = bytes[offset + i]!;
      return out;
    case 'BOOL':
      for (let i = 0; i < n; i++) {
        const v = bytes[offset + i]!;
        if (v > 1) throw new FormatError(fileName, `element ${i} = ${v} is not a valid BOOL (0 or 1)`, `tensor "${info.name}"`);
        out[i] = v;
      }
      return out;
    default:
      throw new Error(`unreachable: ${info.dtype}`);
  }
}
