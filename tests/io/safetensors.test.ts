import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../llm/io/format-error.ts';
import { readSafetensors, SafetensorsReader, writeSafetensors } from '../../llm/io/safetensors.ts';
import { asset, haveAssets, skipNote } from './shared-assets.ts';

const HF_MODEL = 'models/stories260K-hf/model.safetensors';
const NAME = 'corrupt.safetensors';

/** A safetensors file from a header object (or raw JSON text) and a data section, built by hand. */
function build(header: object | string, data: Uint8Array, opts: { pad?: boolean } = {}): Uint8Array {
  let json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  if (opts.pad ?? true) {
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32le(...values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function expectFormatError(fn: () => unknown, pattern: RegExp): FormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected an error matching ${pattern}`).toBeInstanceOf(FormatError);
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).toContain(NAME);
  return err as FormatError;
}

describe('safetensors reader on hand-built files', () => {
  const header = {
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F16', shape: [2], data_offsets: [8, 12] },
    c: { dtype: 'BF16', shape: [1], data_offsets: [12, 14] },
  };
  const data = Uint8Array.of(...f32le(1.5, -2), 0x00, 0x3c, 0x00, 0xc0, 0x49, 0x40);

  it('reads metadata and converts F32/F16/BF16 to f32', () => {
    const { metadata, tensors } = readSafetensors(build(header, data), NAME);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(tensors.get('a')).toMatchObject({ dtype: 'f32', shape: [2], sourceDtype: 'F32' });
    expect([...tensors.get('a')!.data]).toEqual([1.5, -2]);
    expect([...tensors.get('b')!.data]).toEqual([1, -2]);
    expect([...tensors.get('c')!.data]).toEqual([3.140625]);
  });

  it('converts integer dtypes to i32 and refuses values outside int32', () => {
    const ints = new Uint8Array(8 * 3 + 4 + 2);
    const dv = new DataView(ints.buffer);
    dv.setBigInt64(0, -5n, true);
    dv.setBigInt64(8, 2147483647n, true);
    dv.setBigInt64(16, -2147483648n, true);
    dv.setUint32(24, 7, true);
    ints[28] = 1;
    ints[29] = 0;
    const file = build(
      {
        i64: { dtype: 'I64', shape: [3], data_offsets: [0, 24] },
        u32: { dtype: 'U32', shape: [], data_offsets: [24, 28] },
        flags: { dtype: 'BOOL', shape: [2], data_offsets: [28, 30] },
      },
      ints,
    );
    const r = new SafetensorsReader(file, NAME);
    expect(r.tensor('i64')).toMatchObject({ dtype: 'i32', shape: [3] });
    expect([...r.tensor('i64').data]).toEqual([-5, 2147483647, -2147483648]);
    expect([...r.tensor('u32').data]).toEqual([7]);
    expect(r.tensor('u32').shape).toEqual([]);
    expect([...r.tensor('flags').data]).toEqual([1, 0]);

    dv.setBigInt64(8, 2147483648n, true);
    const big = new SafetensorsReader(build({ i64: { dtype: 'I64', shape: [3], data_offsets: [0, 24] }, pad: { dtype: 'U8', shape: [6], data_offsets: [24, 30] } }, ints), NAME);
    expectFormatError(() => big.tensor('i64'), /tensor "i64": element 1 = 2147483648 does not fit in int32/);
    dv.setBigInt64(8, -2147483649n, true);
    expectFormatError(() => new SafetensorsReader(build({ i64: { dtype: 'I64', shape: [3], data_offsets: [0, 24] }, pad: { dtype: 'U8', shape: [6], data_offsets: [24, 30] } }, ints), NAME).tensor('i64'), /element 1 = -2147483649/);
  });

  it('reads tensors at unaligned offsets and zero-size tensors', () => {
    const file = build(
      {
        byte: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
        empty: { dtype: 'F32', shape: [0, 3], data_offsets: [1, 1] },
        odd: { dtype: 'F32', shape: [2], data_offsets: [1, 9] },
      },
      Uint8Array.of(9, ...f32le(0.25, 8)),
    );
    const r = new SafetensorsReader(file, NAME);
    expect([...r.tensor('odd').data]).toEqual([0.25, 8]);
    expect(r.tensor('empty')).toMatchObject({ shape: [0, 3] });
    expect(r.tensor('empty').data.length).toBe(0);
    expect([...r.tensor('byte').data]).toEqual([9]);
  });

  const ok = (): Uint8Array => build(header, data);

  it('rejects a file shorter than 8 bytes', () => {
    expectFormatError(() => new SafetensorsReader(ok().slice(0, 5), NAME), /file is 5 bytes; a safetensors file starts with an 8-byte header length/);
  });

  it('rejects a header length beyond the file, or above the 100 MB limit', () => {
    const f = ok();
    new DataView(f.buffer).setUint32(0, f.length, true);
    expectFormatError(() => new SafetensorsReader(f, NAME), new RegExp(`header length ${f.length} extends beyond the end of the file \\(${f.length} bytes`));
    new DataView(f.buffer).setUint32(4, 1, true);
    expectFormatError(() => new SafetensorsReader(f, NAME), /exceeds the 100000000-byte limit/);
  });

  it('rejects a header that is not UTF-8, not JSON, or not an object', () => {
    const bad = build('{"\u00e9":1}', new Uint8Array());
    bad[10] = 0xff; // break the two-byte UTF-8 sequence of é
    expectFormatError(() => new SafetensorsReader(bad, NAME), /header \(bytes 8\.\.\d+\) is not valid UTF-8/);
    expectFormatError(() => new SafetensorsReader(build('{"a": ', new Uint8Array()), NAME), /header is not valid JSON/);
    expectFormatError(() => new SafetensorsReader(build('[1, 2]', new Uint8Array()), NAME), /header JSON must be an object of tensors, got an array/);
    expectFormatError(() => new SafetensorsReader(build('null', new Uint8Array()), NAME), /got null/);
  });

  it('rejects an unknown dtype, naming the tensor', () => {
    const h = structuredClone(header);
    (h.b as { dtype: string }).dtype = 'F12';
    expectFormatError(() => new SafetensorsReader(build(h, data), NAME), /tensor "b": unknown or unsupported dtype "F12"/);
  });

  it('rejects shape x dtype that does not match the byte range', () => {
    const h = structuredClone(header);
    h.a.shape = [3];
    expectFormatError(() => new SafetensorsReader(build(h, data), NAME), /tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/);
    h.a.shape = [-2] as unknown as number[];
    expectFormatError(() => new SafetensorsReader(build(h, data), NAME), /tensor "a": shape must be an array of non-negative integers/);
  });

  it('rejects reversed, overlapping, gapped, out-of-range and non-covering offsets', () => {
    const h = structuredClone(header);
    h.c.data_offsets = [14, 12];
    expectFormatError(() => new SafetensorsReader(build(h, data), NAME), /tensor "c": data_offsets \[14, 12\] are out of order/);

    const overlap = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
      c: { dtype: 'U8', shape: [6], data_offsets: [8, 14] },
    };
    expectFormatError(() => new SafetensorsReader(build(overlap, data), NAME), /tensor "b": data_offsets \[4, 8\] overlap tensor "a" at \[0, 8\]/);

    const gap = {
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      c: { dtype: 'U8', shape: [2], data_offsets: [12, 14] },
    };
    expectFormatError(() => new SafetensorsReader(build(gap, data), NAME), /tensor "b": data_offsets \[8, 12\] leave bytes \[4, 8\) of the data section unused after tensor "a"/);

    const beyond = structuredClone(header);
    beyond.c.data_offsets = [12, 16];
    beyond.c.shape = [2];
    expectFormatError(() => new SafetensorsReader(build(beyond, data), NAME), /tensor "c": data_offsets \[12, 16\] extend beyond the data section \(14 bytes\)/);

    expectFormatError(() => new SafetensorsReader(build(header, Uint8Array.of(...data, 0, 0, 0)), NAME), /data section is 17 bytes but the tensors cover only \[0, 14\); 3 trailing bytes belong to no tensor/);

    expectFormatError(() => new SafetensorsReader(build(header, data.slice(0, 10)), NAME), /extend beyond the data section \(10 bytes\)/);
  });

  it('rejects a duplicated tensor name (which JSON.parse would silently merge)', () => {
    const text = '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}';
    expectFormatError(() => new SafetensorsReader(build(text, Uint8Array.of(1, 2)), NAME), /"a": tensor name appears twice/);
    // The same key nested deeper, or inside strings, is not a duplicate.
    const fine = '{"__metadata__":{"a":"\\"a\\":"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    expect(new SafetensorsReader(build(fine, Uint8Array.of(1)), NAME).names).toEqual(['a']);
  });

  it('rejects non-string metadata values', () => {
    const h = { __metadata__: { step: 3 }, a: header.a };
    expectFormatError(() => new SafetensorsReader(build(h, data.slice(0, 8)), NAME), /__metadata__\.step: value must be a string, got 3/);
    expectFormatError(() => new SafetensorsReader(build({ __metadata__: ['x'], a: header.a }, data.slice(0, 8)), NAME), /__metadata__: must be an object of string -> string/);
    expect(new SafetensorsReader(build({ __metadata__: null, a: header.a }, data.slice(0, 8)), NAME).metadata).toBeNull();
  });

  it('names the tensor and what exists when a missing tensor is requested', () => {
    const r = new SafetensorsReader(ok(), NAME);
    expectFormatError(() => r.tensor('model.norm.weight'), /tensor "model\.norm\.weight": not found in the file \(it has "a", "b", "c"\)/);
  });
});

describe('safetensors writer', () => {
  it('lays out F32 > I32 > BF16 > F16 then by name, aligned, space-padded, and round-trips', () => {
    const file = writeSafetensors(
      [
        { name: 'z_half', shape: [3], data: Float32Array.of(1, -2, 65504), dtype: 'F16' },
        { name: 'b_f32', shape: [1, 2], data: Float32Array.of(0.1, -7) },
        { name: 'a_bf16', shape: [1], data: Float32Array.of(Math.PI), dtype: 'BF16' },
        { name: 'ids', shape: [2], data: Int32Array.of(-1, 123456) },
        { name: 'a_f32', shape: [], data: Float32Array.of(42) },
      ],
      { metadata: { z: '1', format: 'pt' } },
    );
    const n = new DataView(file.buffer).getUint32(0, true);
    expect(n % 8).toBe(0);
    const headerText = new TextDecoder().decode(file.subarray(8, 8 + n));
    // Hand-written expectation of the reference layout.
    const json =
      '{"__metadata__":{"format":"pt","z":"1"},' +
      '"a_f32":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
      '"b_f32":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]},' +
      '"ids":{"dtype":"I32","shape":[2],"data_offsets":[12,20]},' +
      '"a_bf16":{"dtype":"BF16","shape":[1],"data_offsets":[20,22]},' +
      '"z_half":{"dtype":"F16","shape":[3],"data_offsets":[22,28]}}';
    expect(headerText.trimEnd()).toBe(json);
    expect(headerText).toBe(json + ' '.repeat(n - json.length));
    expect(file.length).toBe(8 + n + 28);
    // Raw bytes of the half tensors are the hand-computed bit patterns.
    expect([...file.subarray(8 + n + 20, 8 + n + 22)]).toEqual([0x49, 0x40]);
    expect([...file.subarray(8 + n + 22)]).toEqual([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b]);

    const { metadata, tensors } = readSafetensors(file, 'written');
    expect(metadata).toEqual({ format: 'pt', z: '1' });
    expect([...tensors.get('b_f32')!.data]).toEqual([Math.fround(0.1), -7]);
    expect(tensors.get('ids')).toMatchObject({ dtype: 'i32', shape: [2] });
    expect([...tensors.get('ids')!.data]).toEqual([-1, 123456]);
    expect([...tensors.get('a_bf16')!.data]).toEqual([3.140625]);
    expect([...tensors.get('z_half')!.data]).toEqual([1, -2, 65504]);
    expect(tensors.get('a_f32')!.shape).toEqual([]);
  });

  it('rejects bad input with the tensor named', () => {
    const w = (t: Parameters<typeof writeSafetensors>[0]): unknown => writeSafetensors(t, { fileName: NAME });
    expectFormatError(() => w([{ name: 'x', shape: [3], data: new Float32Array(2) }]), /tensor "x": shape \[3\] has 3 elements but data has 2/);
    expectFormatError(() => w([{ name: 'x', shape: [1], data: new Float32Array(1) }, { name: 'x', shape: [1], data: new Float32Array(1) }]), /tensor "x": name given twice/);
    expectFormatError(() => w([{ name: 'x', shape: [1], data: new Int32Array(1), dtype: 'F16' }]), /dtype F16 does not match Int32Array/);
    expectFormatError(() => w([{ name: '__metadata__', shape: [1], data: new Float32Array(1) }]), /invalid tensor name/);
  });
});

const haveModel = haveAssets(HF_MODEL);
describe.skipIf(!haveModel)(`safetensors on the real stories260K-hf file${skipNote(haveModel)}`, () => {
  const file = haveModel ? new Uint8Array(readFileSync(asset(HF_MODEL))) : new Uint8Array();

  it('reads the header and tensor values', () => {
    const r = new SafetensorsReader(file, HF_MODEL);
    expect(r.metadata).toEqual({ format: 'pt' });
    expect(r.names.length).toBe(47); // embed + 5 x 9 + norm; no lm_head (tied)
    expect(r.info('model.layers.0.self_attn.k_proj.weight')).toMatchObject({ dtype: 'F32', shape: [32, 64] });
    // Independent read of two values straight from the bytes.
    const info = r.info('model.norm.weight');
    const dv = new DataView(file.buffer, file.byteOffset);
    const at = r.header.dataStart + info.dataOffsets[0];
    const t = r.tensor('model.norm.weight');
    expect(t.data[0]).toBe(dv.getFloat32(at, true));
    expect(t.data[63]).toBe(dv.getFloat32(at + 63 * 4, true));
  });

  it('writes back byte-identical to the reference implementation', () => {
    const { metadata, tensors } = readSafetensors(file, HF_MODEL);
    const out = writeSafetensors(
      [...tensors.values()].map((t) => ({ name: t.name, shape: t.shape, data: t.data })),
      { metadata: metadata! },
    );
    expect(out.length).toBe(file.length);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(file))).toBe(0);
  });

  it('gives specific errors for damaged copies of the real file', () => {
    const n = new DataView(file.buffer, file.byteOffset).getUint32(0, true);
    const flip = (at: number, byte: number): Uint8Array => {
      const c = file.slice();
      c[at] = byte;
      return c;
    };
    expectFormatError(() => new SafetensorsReader(file.slice(0, 7), NAME), /file is 7 bytes/);
    expectFormatError(() => new SafetensorsReader(file.slice(0, 8 + n - 1), NAME), /extends beyond the end of the file/);
    expectFormatError(() => new SafetensorsReader(flip(8, 0x5b), NAME), /not valid JSON/); // '{' -> '['
    expectFormatError(() => new SafetensorsReader(file.slice(0, file.length - 4), NAME), /tensor "model\.norm\.weight": data_offsets \[1039872, 1040128\] extend beyond the data section \(1040124 bytes\)/);
    const text = new TextDecoder().decode(file.subarray(8, 8 + n));
    const lie = (from: string, to: string): Uint8Array => {
      expect(to.length).toBe(from.length);
      expect(text.includes(from)).toBe(true);
      const c = file.slice();
      c.set(new TextEncoder().encode(text.replace(from, to)), 8);
      return c;
    };
    expectFormatError(() => new SafetensorsReader(lie('"F32"', '"F31"'), NAME), /tensor "model\.embed_tokens\.weight": unknown or unsupported dtype "F31"/);
    expectFormatError(() => new SafetensorsReader(lie('[512,64]', '[512,65]'), NAME), /tensor "model\.embed_tokens\.weight": shape \[512, 65\] of F32 needs 133120 bytes but data_offsets \[0, 131072\] span 131072/);
    // model.layers.0.input_layernorm.weight claims to start 4 bytes early: it now overlaps the embedding
    // and (to keep its size right) ends 4 bytes early, leaving a gap before the next tensor.
    expectFormatError(() => new SafetensorsReader(lie('[131072,131328]', '[131068,131324]'), NAME), /tensor "model\.layers\.0\.input_layernorm\.weight": data_offsets \[131068, 131324\] overlap tensor "model\.embed_tokens\.weight"/);
    // Renaming layer 1's up_proj to layer 0's gives two entries with one name.
    expectFormatError(() => new SafetensorsReader(lie('"model.layers.1.mlp.up_proj.weight"', '"model.layers.0.mlp.up_proj.weight"'), NAME), /"model\.layers\.0\.mlp\.up_proj\.weight": tensor name appears twice/);
    expectFormatError(() => new SafetensorsReader(file, NAME).tensor('lm_head.weight'), /tensor "lm_head\.weight": not found in the file \(it has .* \(47 in all\)\)/);
  });
});
