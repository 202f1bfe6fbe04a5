// Little-endian array reads from a byte slice at any offset. Every file format we read stores
// little-endian data; typed-array views are used directly only when the host is little-endian
// and the offset is aligned, otherwise values go through a DataView.

export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Copies `count` f32 values starting at byte `offset` of `bytes` (caller checked the bounds). */
export function readF32Array(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const abs = bytes.byteOffset + offset;
  if (HOST_IS_LITTLE_ENDIAN && abs % 4 === 0) return new Float32Array(bytes.buffer, abs, count).slice();
  if (HOST_IS_LITTLE_ENDIAN) return new Float32Array(bytes.slice(offset, offset + 4 * count).buffer);
  const dv = view(bytes);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = dv.getFloat32(offset + 4 * i, true);
  return out;
}

export function readF64AsF32Array(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const dv = view(bytes);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = dv.getFloat64(offset + 8 * i, true);
  return out;
}

export function readI32Array(bytes: Uint8Array, offset: number, count: number): Int32Array {
  const abs = bytes.byteOffset + offset;
  if (HOST_IS_LITTLE_ENDIAN && abs % 4 === 0) return new Int32Array(bytes.buffer, abs, count).slice();
  const dv = view(bytes);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = dv.getInt32(offset + 4 * i, true);
  return out;
}

export function readI32(bytes: Uint8Array, offset: number): number {
  return view(bytes).getInt32(offset, true);
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return view(bytes).getUint32(offset, true);
}

export function readF32(bytes: Uint8Array, offset: number): number {
  return view(bytes).getFloat32(offset, true);
}

/** The little-endian bytes of an f32 array (a copy). */
export function f32Bytes(values: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.slice().buffer);
  const out = new Uint8Array(values.length * 4);
  const dv = view(out);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i]!, true);
  return out;
}

export function i32Bytes(values: Int32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.slice().buffer);
  const out = new Uint8Array(values.length * 4);
  const dv = view(out);
  for (let i = 0; i < values.length; i++) dv.setInt32(4 * i, values[i]!, true);
  return out;
}
