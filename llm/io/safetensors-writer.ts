// safetensors writer laid out the way the reference implementation (huggingface/safetensors, Rust)
// lays it out, so a file we write is byte-identical to one it would write for the same tensors:
//  - tensors sorted by dtype (descending in its Dtype enum: F32 > I32 > BF16 > F16, which keeps every
//    tensor aligned to its element size), then by name (bytewise UTF-8);
//  - compact JSON, "__metadata__" first, then the tensors in data order;
//  - the header padded with spaces to a multiple of 8 bytes.
// __metadata__ keys are written sorted (Rust's HashMap order is arbitrary; we want determinism).
import { FormatError } from './format-error.ts';
import { encodeHalf } from './half.ts';
import { f32Bytes, i32Bytes } from './little-endian.ts';
import { numel } from './tensor-data.ts';

export interface SafetensorsWriteTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array | Int32Array;
  /** Storage dtype. Float32Array: F32 (default), F16 or BF16 (rounded to nearest even). Int32Array: I32. */
  dtype?: 'F32' | 'F16' | 'BF16' | 'I32';
}

export interface SafetensorsWriteOptions {
  /** The "__metadata__" map, e.g. { format: 'pt' } as transformers writes. */
  metadata?: Record<string, string>;
  /** Used in error messages. */
  fileName?: string;
}

/** Rank of each dtype in the reference implementation's Dtype enum (only the order matters). */
const DTYPE_RANK = { F16: 11, BF16: 12, I32: 13, F32: 15 } as const;
const ELEMENT_BYTES = { F16: 2, BF16: 2, I32: 4, F32: 4 } as const;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function writeSafetensors(
  tensors: readonly SafetensorsWriteTensor[],
  options: SafetensorsWriteOptions = {},
): Uint8Array {
  const fileName = options.fileName ?? '<safetensors output>';
  const utf8 = new TextEncoder();
  const names = new Set<string>();
  const prepared = tensors.map((t) => {
    const field = `tensor "${t.name}"`;
    if (t.name === '' || t.name === '__metadata__') throw new FormatError(fileName, `invalid tensor name`, field);
    if (names.has(t.name)) throw new FormatError(fileName, `name given twice`, field);
    names.add(t.name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new FormatError(fileName, `shape must be non-negative integers, got [${t.shape.join(', ')}]`, field);
    }
    if (numel(t.shape) !== t.data.length) {
      throw new FormatError(fileName, `shape [${t.shape.join(', ')}] has ${numel(t.shape)} elements but data has ${t.data.length}`, field);
    }
    const isInt = t.data instanceof Int32Array;
    const dtype = t.dtype ?? (isInt ? 'I32' : 'F32');
    if (isInt !== (dtype === 'I32')) {
      throw new FormatError(fileName, `dtype ${dtype} does not match ${isInt ? 'Int32Array' : 'Float32Array'} data (I32 needs Int32Array; F32/F16/BF16 need Float32Array)`, field);
    }
    return { t, dtype, key: utf8.encode(t.name) };
  });
  prepared.sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareBytes(a.key, b.key));

  const header: string[] = [];
  if (options.metadata) {
    const entries = Object.keys(options.metadata).sort().map((k) => {
      const v = options.metadata![k];
      if (typeof v !== 'string') throw new FormatError(fileName, `value must be a string, got ${JSON.stringify(v)}`, `__metadata__.${k}`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    header.push(`"__metadata__":{${entries.join(',')}}`);
  }
  let offset = 0;
  for (const { t, dtype } of prepared) {
    const size = t.data.length * ELEMENT_BYTES[dtype];
    header.push(`${JSON.stringify(t.name)}:{"dtype":"${dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + size}]}`);
    offset += size;
  }
  const json = utf8.encode(`{${header.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + padded + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded % 2 ** 32, true);
  dv.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let p = 8 + padded;
  for (const { t, dtype } of prepared) {
    const bytes =
      dtype === 'I32' ? i32Bytes(t.data as Int32Array)
      : dtype === 'F32' ? f32Bytes(t.data as Float32Array)
      : encodeHalf(t.data as Float32Array, dtype);
    out.set(bytes, p);
    p += bytes.length;
  }
  return out;
}
