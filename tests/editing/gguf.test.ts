// Control vectors as GGUF: what we write, read back by an independent reader (@huggingface/gguf),
// has llama.cpp's keys, types, tensor names (direction.N, N ≥ 1, block N's output), shapes and the
// exact values; a file laid out as repeng's export_gguf writes it (gguf-py: architecture first,
// directions from the last block down) loads; bad files fail naming the file and the problem.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gguf, GGUFValueType } from '@huggingface/gguf';
import { describe, expect, it } from 'vitest';
import { loadControlVector, readControlVector, saveControlVector, writeControlVector, writeGguf } from '../../llm/io/gguf.ts';
import { tempDirs } from '../adapters/helpers.ts';

const tmp = tempDirs('gguf');
const vec = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * (seed + 1));

/** GGUF bytes as gguf-py's GGUFWriter lays them out (an encoder independent of llm/io/gguf.ts). */
function ggufPyBytes(kvs: [string, 'str' | 'u32', string | number][], tensors: [string, Float32Array][]): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); parts.push(...b); };
  const u64 = (v: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); parts.push(...b); };
  const str = (s: string) => { const b = new TextEncoder().encode(s); u64(b.length); parts.push(...b); };
  parts.push(...new TextEncoder().encode('GGUF'));
  u32(3); u64(tensors.length); u64(kvs.length);
  for (const [k, t, v] of kvs) { str(k); if (t === 'str') { u32(8); str(v as string); } else { u32(4); u32(v as number); } }
  let off = 0;
  for (const [name, data] of tensors) { str(name); u32(1); u64(data.length); u32(0); u64(off); off += Math.ceil((data.length * 4) / 32) * 32; }
  while (parts.length % 32) parts.push(0);
  for (const [, data] of tensors) {
    const b = new Uint8Array(data.length * 4);
    data.forEach((v, i) => new DataView(b.buffer).setFloat32(4 * i, v, true));
    parts.push(...b);
    while (parts.length % 32) parts.push(0);
  }
  return Uint8Array.from(parts);
}

describe('GGUF control vectors', () => {
  it('written here, read by @huggingface/gguf: keys, types, names, shapes and values', async () => {
    const directions = new Map([[1, vec(24, 1)], [2, vec(24, 2)], [4, vec(24, 4)]]);
    const path = join(tmp(), 'vec.gguf');
    await saveControlVector(path, { modelHint: 'llama', directions });
    const parsed = await gguf(path, { allowLocalFile: true, typedMetadata: true });
    const m = parsed.typedMetadata as unknown as Record<string, { type: number; value: unknown }>;
    expect(m['general.architecture']).toEqual({ type: GGUFValueType.STRING, value: 'controlvector' });
    expect(m['controlvector.model_hint']).toEqual({ type: GGUFValueType.STRING, value: 'llama' });
    expect(m['controlvector.layer_count']).toEqual({ type: GGUFValueType.UINT32, value: 3 });
    expect(parsed.tensorInfos.map((t) => t.name)).toEqual(['direction.1', 'direction.2', 'direction.4']);
    const bytes = readFileSync(path);
    for (const t of parsed.tensorInfos) {
      expect(t.n_dims).toBe(1);
      expect(t.shape).toEqual([24n]);
      expect(t.dtype).toBe(0); // GGML_TYPE_F32
      const at = Number(parsed.tensorDataOffset + t.offset);
      expect(at % 32).toBe(0);
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + 24 * 4));
      expect(values).toEqual(directions.get(Number(t.name.split('.')[1])));
    }
    const back = await loadControlVector(path);
    expect(back.modelHint).toBe('llama');
    expect(back.hiddenSize).toBe(24);
    expect(back.directions).toEqual(directions);
  });

  it('reads a file laid out as repeng writes it (directions from the last block down)', () => {
    const dirs: [string, Float32Array][] = [[`direction.3`, vec(10, 3)], [`direction.2`, vec(10, 2)], [`direction.1`, vec(10, 1)]];
    const bytes = ggufPyBytes([['general.architecture', 'str', 'controlvector'], ['controlvector.model_hint', 'str', 'mistral'], ['controlvector.layer_count', 'u32', 3]], dirs);
    const cv = readControlVector(bytes, 'repeng.gguf');
    expect(cv.modelHint).toBe('mistral');
    expect([...cv.directions.keys()].sort()).toEqual([1, 2, 3]);
    for (const [name, data] of dirs) expect(cv.directions.get(Number(name.split('.')[1]))).toEqual(data);
  });

  it('rejects what llama.cpp rejects, naming the file', () => {
    const d0 = ggufPyBytes([['general.architecture', 'str', 'controlvector']], [['direction.0', vec(4, 0)]]);
    expect(() => readControlVector(d0, 'zero.gguf')).toThrow(/zero\.gguf: direction\.0: block index 0/);
    const mixed = ggufPyBytes([], [['direction.1', vec(4, 1)], ['direction.2', vec(5, 2)]]);
    expect(() => readControlVector(mixed, 'mixed.gguf')).toThrow(/mixed\.gguf: direction\.2: has 5 values, earlier directions 4/);
    const model = ggufPyBytes([['general.architecture', 'str', 'llama']], [['blk.0.attn_q.weight', vec(4, 1)]]);
    expect(() => readControlVector(model, 'model.gguf')).toThrow(/model\.gguf: general\.architecture is "llama", expected "controlvector"/);
    const dir = tmp();
    writeFileSync(join(dir, 'junk.gguf'), 'not a gguf');
    return expect(loadControlVector(join(dir, 'junk.gguf'))).rejects.toThrow(/junk\.gguf: not a GGUF file/);
  });

  it('writes nothing llama.cpp would reject', () => {
    expect(() => writeControlVector({ modelHint: 'llama', directions: new Map([[0, vec(4, 0)]]) })).toThrow(/llama\.cpp rejects direction\.0/);
    expect(() => writeControlVector({ modelHint: 'llama', directions: new Map([[1, vec(4, 0)], [2, vec(3, 0)]]) })).toThrow(/different sizes/);
    expect(() => writeGguf([], [{ name: 'x', shape: [3], data: new Float32Array(2) }])).toThrow(/2 values for shape \[3\]/);
  });
});
