import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  decodeBf16,
  decodeF16,
  encodeHalf,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
} from '../../llm/io/half.ts';

// Expected values are worked out by hand from the IEEE 754 binary16 / bfloat16 definitions.
describe('f16', () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3800, 0.5],
    [0x7bff, 65504], // largest finite: (2 - 2^-10) * 2^15
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x3555, 0.333251953125], // 1/3 rounded: 1.0101010101b * 2^-2
    [0x4248, 3.140625], // pi rounded: 1.1001001000b * 2
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  it('decodes hand-computed bit patterns', () => {
    for (const [bits, v] of cases) expect(f16BitsToF32(bits)).toBe(v);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
  });
  it('encodes with round-to-nearest-even', () => {
    for (const [bits, v] of cases) expect(f32ToF16Bits(v)).toBe(bits);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(1 / 3)).toBe(0x3555);
    expect(f32ToF16Bits(Math.PI)).toBe(0x4248);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even (down)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(f32ToF16Bits(65519)).toBe(0x7bff); // below the overflow tie
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 2^16 -> even = inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // half the smallest subnormal, tie -> 0
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(f32ToF16Bits(1.5 * 2 ** -24)).toBe(0x0002); // tie between 1 and 2 subnormal units -> even
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up from subnormal into the first normal
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
  });
  it('round-trips every finite f16 bit pattern', () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN payloads
      if (f32ToF16Bits(f16BitsToF32(h)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });
  it('decodes little-endian arrays at odd offsets', () => {
    const bytes = Uint8Array.of(0xaa, 0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b);
    expect([...decodeF16(bytes, 1, 3)]).toEqual([1, -2, 65504]);
    expect([...encodeHalf(Float32Array.of(1, -2, 65504), 'F16')]).toEqual([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b]);
  });
});

describe('bf16', () => {
  it('decodes hand-computed bit patterns', () => {
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc000)).toBe(-2);
    expect(bf16BitsToF32(0x4049)).toBe(3.140625); // 1.1001001b * 2
    expect(bf16BitsToF32(0x7f80)).toBe(Infinity);
    expect(bf16BitsToF32(0x0001)).toBe(2 ** -133); // f32 subnormal 0x00010000
    expect(bf16BitsToF32(0x7f7f)).toBe((2 - 2 ** -7) * 2 ** 127);
    expect(bf16BitsToF32(0x7fc0)).toBeNaN();
  });
  it('encodes with round-to-nearest-even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(Math.PI)).toBe(0x4049); // 0x40490fdb -> round down
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even (down)
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie -> even (up)
    expect(f32ToBf16Bits(-1 - 2 ** -8 - 2 ** -16)).toBe(0xbf81); // above the tie
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // f32 max rounds to inf
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    const nan = f32ToBf16Bits(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
  });
  it('decodes little-endian arrays', () => {
    const bytes = Uint8Array.of(0x80, 0x3f, 0x00, 0xc0, 0x49, 0x40);
    expect([...decodeBf16(bytes, 0, 3)]).toEqual([1, -2, 3.140625]);
    expect([...encodeHalf(Float32Array.of(1, -2, Math.PI), 'BF16')]).toEqual([...bytes]);
  });
});
