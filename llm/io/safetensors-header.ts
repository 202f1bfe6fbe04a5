// safetensors layout: u64 little-endian N, then N bytes of UTF-8 JSON (padded with spaces), then the
// data section. The JSON maps tensor name -> { dtype, shape, data_offsets: [begin, end) relative to
// the data section }, plus an optional "__metadata__" string->string map. The reference
// implementation requires the tensors to tile the data section exactly: no gaps, no overlaps.
// This module validates all of that from the header bytes and the file size alone, so a lazy
// reader can check a huge file before touching its data.
import { FormatError } from './format-error.ts';
import { numel } from './tensor-data.ts';

/** Bytes per element of every byte-sized dtype the reference implementation defines. */
export const SAFETENSORS_DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

/** The reference implementation refuses headers above 100 MB; so do we (it also bounds allocation). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  fileName: string;
  fileSize: number;
  /** N: the JSON length including its padding. */
  headerLength: number;
  /** 8 + N: where the data section starts in the file. */
  dataStart: number;
  metadata: Record<string, string> | null;
  /** In data order (ascending offsets). */
  tensors: SafetensorsTensorInfo[];
  byName: Map<string, SafetensorsTensorInfo>;
}

/** Reads N from the first 8 bytes and checks that the header fits in a file of `fileSize` bytes. */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, fileName: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new FormatError(fileName, `file is ${fileSize} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (n > MAX_HEADER_BYTES) {
    throw new FormatError(fileName, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
  }
  if (8 + n > fileSize) {
    throw new FormatError(fileName, `header length ${n} extends beyond the end of the file (${fileSize} bytes, so at most ${fileSize - 8})`);
  }
  return n;
}

/**
 * Parses and validates the header. `bytes` must hold at least the first 8 + N bytes of the file;
 * `fileSize` is the whole file's size (defaults to bytes.length, i.e. the whole file is in memory).
 */
export function parseSafetensorsHeader(
  bytes: Uint8Array,
  fileSize: number = bytes.length,
  fileName = '<safetensors bytes>',
): SafetensorsHeader {
  const n = readHeaderLength(bytes, fileSize, fileName);
  if (bytes.length < 8 + n) {
    throw new FormatError(fileName, `need the first ${8 + n} bytes to parse the header, got ${bytes.length}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new FormatError(fileName, `header (bytes 8..${8 + n}) is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(fileName, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FormatError(fileName, `header JSON must be an object of tensors, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  }
  // JSON.parse keeps the last of two equal keys silently; a duplicated tensor name must be an error.
  const seen = new Set<string>();
  for (const key of topLevelKeys(text)) {
    if (seen.has(key)) throw new FormatError(fileName, `tensor name appears twice in the header`, `"${key}"`);
    seen.add(key);
  }

  const dataLength = fileSize - 8 - n;
  let metadata: Record<string, string> | null = null;
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      // The reference writer omits it when absent; a null one reads as absent, as in the reference reader.
      metadata = entry === null ? null : parseMetadata(entry, fileName);
      continue;
    }
    tensors.push(parseTensorEntry(name, entry, dataLength, fileName));
  }

  // Tile check: sorted by begin, each tensor must start where the previous one ended.
  const ordered = [...tensors].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let end = 0;
  let prev: SafetensorsTensorInfo | null = null;
  for (const t of ordered) {
    const [b, e] = t.dataOffsets;
    if (b < end) {
      throw new FormatError(fileName, `data_offsets [${b}, ${e}] overlap tensor "${prev!.name}" at [${prev!.dataOffsets[0]}, ${prev!.dataOffsets[1]}]`, `tensor "${t.name}"`);
    }
    if (b > end) {
      throw new FormatError(fileName, `data_offsets [${b}, ${e}] leave bytes [${end}, ${b}) of the data section unused${prev ? ` after tensor "${prev.name}"` : ''}; tensors must be contiguous`, `tensor "${t.name}"`);
    }
    end = e;
    prev = t;
  }
  if (end !== dataLength) {
    throw new FormatError(fileName, `data section is ${dataLength} bytes but the tensors cover only [0, ${end}); ${dataLength - end} trailing bytes belong to no tensor`);
  }
  return {
    fileName,
    fileSize,
    headerLength: n,
    dataStart: 8 + n,
    metadata,
    tensors: ordered,
    byName: new Map(ordered.map((t) => [t.name, t])),
  };
}

function parseMetadata(entry: unknown, fileName: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new FormatError(fileName, `must be an object of string -> string`, '__metadata__');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw new FormatError(fileName, `value must be a string, got ${JSON.stringify(v)}`, `__metadata__.${k}`);
    out[k] = v;
  }
  return out;
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseTensorEntry(name: string, entry: unknown, dataLength: number, fileName: string): SafetensorsTensorInfo {
  const field = `tensor "${name}"`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new FormatError(fileName, `entry must be an object { dtype, shape, data_offsets }`, field);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype)) {
    throw new FormatError(fileName, `unknown or unsupported dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`, field);
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) {
    throw new FormatError(fileName, `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`, field);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize)) {
    throw new FormatError(fileName, `data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`, field);
  }
  const [b, e] = offsets as [number, number];
  if (e < b) throw new FormatError(fileName, `data_offsets [${b}, ${e}] are out of order (end before begin)`, field);
  if (e > dataLength) {
    throw new FormatError(fileName, `data_offsets [${b}, ${e}] extend beyond the data section (${dataLength} bytes)`, field);
  }
  const elemBytes = SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDtype];
  const count = numel(shape as number[]);
  const expected = count * elemBytes;
  if (!Number.isSafeInteger(expected) || expected !== e - b) {
    throw new FormatError(fileName, `shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expected} bytes but data_offsets [${b}, ${e}] span ${e - b}`, field);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], dataOffsets: [b, e] };
}

/** Keys of the outermost JSON object, in order, duplicates kept. `text` must be valid JSON. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (k < text.length && ' \t\n\r'.includes(text[k]!)) k++;
        if (text[k] === ':') keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      }
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}
