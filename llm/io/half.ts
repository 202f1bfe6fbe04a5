// IEEE binary16 (f16) and bfloat16 (bf16) <-> f32 conversion on raw bit patterns.
// f32 -> half rounds to nearest, ties to even (what numpy and torch do); NaN stays NaN.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Bits of an f32 as an unsigned 32-bit integer. */
export function f32ToBits(v: number): number {
  f32Scratch[0] = v;
  return u32Scratch[0]!;
}

export function bitsToF32(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0]!;
}

/** Decodes one f16 bit pattern (0..0xffff). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

let f16Table: Float32Array | null = null;

/** All 65536 f16 values, built once; decoding a big tensor is then one lookup per element. */
function f16Lookup(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

/** Encodes an f32 value as f16 bits, round-to-nearest-even, overflow to ±inf. */
export function f32ToF16Bits(v: number): number {
  const x = f32ToBits(v);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is an f16 subnormal (or zero): shift the full significand (with its implicit 1)
    // right so the exponent becomes the subnormal one, rounding the dropped bits.
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half; // a carry lands in the exponent field, which is correct
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry may reach inf: correct
  return sign | half;
}

/** Encodes an f32 value as bf16 bits (the top half of the f32), round-to-nearest-even. */
export function f32ToBf16Bits(v: number): number {
  const x = f32ToBits(v);
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  return bitsToF32((b & 0xffff) << 16);
}

/** Decodes `count` little-endian f16 values starting at `offset` in `bytes`. */
export function decodeF16(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const table = f16Lookup();
  const out = new Float32Array(count);
  for (let i = 0, p = offset; i < count; i++, p += 2) out[i] = table[bytes[p]! | (bytes[p + 1]! << 8)]!;
  return out;
}

/** Decodes `count` little-endian bf16 values: each is the high 16 bits of an f32. */
export function decodeBf16(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0, p = offset; i < count; i++, p += 2) bits[i] = ((bytes[p]! | (bytes[p + 1]! << 8)) << 16) >>> 0;
  return out;
}

/** Encodes f32 values as little-endian f16 or bf16 bytes. */
export function encodeHalf(values: Float32Array, kind: 'F16' | 'BF16'): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const enc = kind === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < values.length; i++) {
    const h = enc(values[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}
