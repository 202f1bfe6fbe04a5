// GGUF (v3, little-endian) as llama.cpp's ggml/src/gguf.cpp and gguf-py write it: magic "GGUF",
// version u32, tensor count u64, key/value count u64, the key/values, the tensor infos (name, n_dims
// u32, dims u64 (fastest first), ggml type u32, offset u64 from the data section), padding to
// `general.alignment` (default 32), then the tensor data, each tensor aligned. Only what control
// vectors need is written (scalars, strings, F32 tensors); the reader also takes arrays and F16.
// Control vectors (llama.cpp common/common.cpp, common_control_vector_load_one; repeng's
// ControlVector.export_gguf): general.architecture = "controlvector", controlvector.model_hint,
// controlvector.layer_count, and one F32 1-D tensor `direction.N` per block N, added to that block's
// output (llama-adapter.cpp, llama_adapter_cvec::apply_to). llama.cpp rejects N = 0 and keeps no
// slot for block 0.
import { f16BitsToF32 } from './half.ts';
import { FormatError } from './format-error.ts';
import { baseName, dirName, readFileBytes, writeFileAtomic } from './node-fs.ts';

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const VERSION = 3;
const DEFAULT_ALIGNMENT = 32;

/** gguf_type (ggml/include/gguf.h). */
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;
/** ggml_type of the tensors we read (ggml/include/ggml.h). */
const GGML_F32 = 0, GGML_F16 = 1;

export type GgufValue = string | number | bigint | boolean | GgufValue[];
/** A typed scalar for the writer (numbers alone do not say u32 from f32). */
export type GgufKv = { type: 'string'; value: string } | { type: 'u32' | 'i32' | 'f32'; value: number } | { type: 'bool'; value: boolean };

export interface GgufTensor { name: string; shape: number[]; data: Float32Array }
export interface GgufFile { version: number; metadata: Map<string, GgufValue>; tensors: GgufTensor[] }

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array) { this.chunks.push(b); this.length += b.length; }
  private num(bytes: number, set: (dv: DataView) => void) { const b = new Uint8Array(bytes); set(new DataView(b.buffer)); this.push(b); }
  u32(v: number) { this.num(4, (d) => d.setUint32(0, v, true)); }
  i32(v: number) { this.num(4, (d) => d.setInt32(0, v, true)); }
  f32(v: number) { this.num(4, (d) => d.setFloat32(0, v, true)); }
  u64(v: number) { this.num(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  u8(v: number) { this.push(Uint8Array.of(v)); }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); this.push(b); }
  bytes(b: Uint8Array) { this.push(b); }
  pad(align: number) { const n = (align - (this.length % align)) % align; if (n) this.push(new Uint8Array(n)); }
  concat(): Uint8Array { const out = new Uint8Array(this.length); let o = 0; for (const c of this.chunks) { out.set(c, o); o += c.length; } return out; }
}

/** A GGUF file of key/values and F32 tensors (shape as written here: outermost first, e.g. [hidden]). */
export function writeGguf(kvs: [string, GgufKv][], tensors: GgufTensor[]): Uint8Array {
  const w = new Writer();
  w.u32(MAGIC); w.u32(VERSION); w.u64(tensors.length); w.u64(kvs.length);
  for (const [key, kv] of kvs) {
    w.str(key);
    if (kv.type === 'string') { w.u32(T.STRING); w.str(kv.value); }
    else if (kv.type === 'u32') { w.u32(T.U32); w.u32(kv.value); }
    else if (kv.type === 'i32') { w.u32(T.I32); w.i32(kv.value); }
    else if (kv.type === 'f32') { w.u32(T.F32); w.f32(kv.value); }
    else { w.u32(T.BOOL); w.u8(kv.value ? 1 : 0); }
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`writeGguf: tensor ${t.name} has ${t.data.length} values for shape [${t.shape}]`);
    w.str(t.name); w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d); // ggml's ne[0] is the innermost dimension
    w.u32(GGML_F32); w.u64(offset);
    offset += Math.ceil((4 * t.data.length) / DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT;
  }
  w.pad(DEFAULT_ALIGNMENT);
  for (const t of tensors) {
    const b = new Uint8Array(4 * t.data.length);
    const dv = new DataView(b.buffer);
    t.data.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    w.bytes(b); w.pad(DEFAULT_ALIGNMENT);
  }
  return w.concat();
}

/** Parses a GGUF file; F32 and F16 tensors are returned as f32, other ggml types are an error. */
export function readGguf(bytes: Uint8Array, file: string): GgufFile {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (n: number, what: string) => {
    if (o + n > bytes.length) throw new FormatError(file, `truncated: ${what} needs ${n} bytes at offset ${o}, the file has ${bytes.length}`);
  };
  const u32 = (what: string) => { need(4, what); const v = dv.getUint32(o, true); o += 4; return v; };
  const u64 = (what: string) => {
    need(8, what); const v = dv.getBigUint64(o, true); o += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(file, `${what} ${v} is too large`);
    return Number(v);
  };
  const str = (what: string) => { const n = u64(`${what} length`); need(n, what); const s = new TextDecoder().decode(bytes.subarray(o, o + n)); o += n; return s; };
  const value = (type: number, key: string): GgufValue => {
    const scalar = (size: number, get: () => GgufValue) => { need(size, key); const v = get(); o += size; return v; };
    switch (type) {
      case T.U8: return scalar(1, () => dv.getUint8(o));
      case T.I8: return scalar(1, () => dv.getInt8(o));
      case T.U16: return scalar(2, () => dv.getUint16(o, true));
      case T.I16: return scalar(2, () => dv.getInt16(o, true));
      case T.U32: return scalar(4, () => dv.getUint32(o, true));
      case T.I32: return scalar(4, () => dv.getInt32(o, true));
      case T.F32: return scalar(4, () => dv.getFloat32(o, true));
      case T.BOOL: return scalar(1, () => dv.getUint8(o) !== 0);
      case T.U64: return scalar(8, () => dv.getBigUint64(o, true));
      case T.I64: return scalar(8, () => dv.getBigInt64(o, true));
      case T.F64: return scalar(8, () => dv.getFloat64(o, true));
      case T.STRING: return str(key);
      case T.ARRAY: {
        const inner = u32(`${key} array type`);
        const n = u64(`${key} array length`);
        return Array.from({ length: n }, () => value(inner, key));
      }
      default: throw new FormatError(file, `unknown GGUF value type ${type}`, key);
    }
  };
  if (bytes.length < 4 || dv.getUint32(0, true) !== MAGIC) throw new FormatError(file, 'not a GGUF file (no "GGUF" magic at the start)');
  o = 4;
  const version = u32('version');
  if (version !== 2 && version !== 3) throw new FormatError(file, `GGUF version ${version} is not supported (expected 2 or 3)`);
  const nTensors = u64('tensor count');
  const nKv = u64('key/value count');
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str(`key ${i}`);
    metadata.set(key, value(u32(`${key} type`), key));
  }
  const infos: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str(`tensor ${i} name`);
    const nd = u32(`${name} n_dims`);
    const ne = Array.from({ length: nd }, () => u64(`${name} dims`));
    infos.push({ name, shape: ne.reverse(), type: u32(`${name} type`), offset: u64(`${name} offset`) });
  }
  const alignment = Number(metadata.get('general.alignment') ?? DEFAULT_ALIGNMENT);
  const dataStart = Math.ceil(o / alignment) * alignment;
  const tensors = infos.map(({ name, shape, type, offset }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const size = type === GGML_F32 ? 4 : type === GGML_F16 ? 2 : -1;
    if (size < 0) throw new FormatError(file, `ggml type ${type} is not read here (F32 or F16 expected)`, name);
    const at = dataStart + offset;
    if (at + size * n > bytes.length) throw new FormatError(file, `data at ${at} + ${size * n} bytes runs past the end (${bytes.length})`, name);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = size === 4 ? dv.getFloat32(at + 4 * i, true) : f16BitsToF32(dv.getUint16(at + 2 * i, true));
    return { name, shape, data };
  });
  return { version, metadata, tensors };
}

/** A control vector: one direction per block (0-based), applied to that block's output. */
export interface ControlVector {
  modelHint: string;
  directions: Map<number, Float32Array>;
}

/** The GGUF bytes llama.cpp's --control-vector and repeng's import_gguf read. */
export function writeControlVector(cv: ControlVector): Uint8Array {
  const layers = [...cv.directions.keys()].sort((a, b) => a - b);
  if (layers.some((l) => !Number.isInteger(l) || l < 1)) {
    throw new Error(`control vector: block indices must be integers ≥ 1 (llama.cpp rejects direction.0), got [${layers}]`);
  }
  const sizes = new Set(layers.map((l) => cv.directions.get(l)!.length));
  if (sizes.size > 1) throw new Error(`control vector: directions have different sizes (${[...sizes]})`);
  return writeGguf([
    ['general.architecture', { type: 'string', value: 'controlvector' }],
    ['controlvector.model_hint', { type: 'string', value: cv.modelHint }],
    ['controlvector.layer_count', { type: 'u32', value: layers.length }],
  ], layers.map((l) => ({ name: `direction.${l}`, shape: [cv.directions.get(l)!.length], data: cv.directions.get(l)! })));
}

/**
 * Reads a control vector as llama.cpp does: every tensor must be `direction.N` (N ≥ 1), F32 and
 * 1-D, all of one size; two tensors for one block add. The architecture and hint are checked as
 * repeng's import_gguf does (a missing model_hint is an error there; here it reads as '').
 */
export function readControlVector(bytes: Uint8Array, file: string): ControlVector & { hiddenSize: number } {
  const g = readGguf(bytes, file);
  const arch = g.metadata.get('general.architecture');
  if (arch !== undefined && arch !== 'controlvector') {
    throw new FormatError(file, `general.architecture is ${JSON.stringify(arch)}, expected "controlvector" (is this a model file?)`);
  }
  const hint = g.metadata.get('controlvector.model_hint');
  if (!g.tensors.length) throw new FormatError(file, 'no direction tensors');
  const directions = new Map<number, Float32Array>();
  let hidden = -1;
  for (const t of g.tensors) {
    const m = /^direction\.(\d+)$/.exec(t.name);
    if (!m) throw new FormatError(file, 'tensor name is not direction.N', t.name);
    const layer = Number(m[1]);
    if (layer === 0) throw new FormatError(file, 'block index 0 (llama.cpp rejects direction.0: it keeps no slot for block 0)', t.name);
    if (t.shape.length !== 1) throw new FormatError(file, `shape [${t.shape}] is not 1-D`, t.name);
    if (hidden < 0) hidden = t.shape[0];
    else if (t.shape[0] !== hidden) throw new FormatError(file, `has ${t.shape[0]} values, earlier directions ${hidden}`, t.name);
    const prev = directions.get(layer);
    directions.set(layer, prev ? prev.map((v, i) => v + t.data[i]) : t.data);
  }
  return { modelHint: typeof hint === 'string' ? hint : '', directions, hiddenSize: hidden };
}

export async function saveControlVector(path: string, cv: ControlVector): Promise<void> {
  await writeFileAtomic(dirName(path), baseName(path), writeControlVector(cv));
}

export async function loadControlVector(path: string): Promise<ControlVector & { hiddenSize: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  return readControlVector(bytes, path);
}
