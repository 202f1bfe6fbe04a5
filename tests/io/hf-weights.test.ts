import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openHfWeights, readSafetensorsFile, SafetensorsFile, ShardedSafetensors } from '../../llm/io/hf-weights.ts';
import { readSafetensors, writeSafetensors } from '../../llm/io/safetensors.ts';
import { asset, haveAssets, skipNote } from './shared-assets.ts';
import { expectSameTensor } from './tensor-equal.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wgrad-io-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Two shards and an index, written by the test. */
function shardedFolder(index?: (weightMap: Record<string, string>) => unknown): string {
  const dir = tempDir();
  writeFileSync(
    join(dir, 'model-00001-of-00002.safetensors'),
    writeSafetensors([
      { name: 'a', shape: [2], data: Float32Array.of(1, 2) },
      { name: 'b', shape: [1], data: Int32Array.of(-3) },
    ]),
  );
  writeFileSync(
    join(dir, 'model-00002-of-00002.safetensors'),
    writeSafetensors([{ name: 'c', shape: [2, 1], data: Float32Array.of(0.5, 4), dtype: 'BF16' }]),
  );
  const weightMap = { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' };
  const json = index ? index(weightMap) : { metadata: { total_size: 16 }, weight_map: weightMap };
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(json));
  return dir;
}

describe('sharded safetensors (model.safetensors.index.json)', () => {
  it('opens every shard lazily and reads tensors through the weight_map', async () => {
    const dir = shardedFolder();
    const w = await openHfWeights(dir);
    try {
      expect(w).toBeInstanceOf(ShardedSafetensors);
      expect(w.names.sort()).toEqual(['a', 'b', 'c']);
      expect((w as ShardedSafetensors).indexMetadata).toEqual({ total_size: 16 });
      expect((w as ShardedSafetensors).shardOf('c')).toBe(join(dir, 'model-00002-of-00002.safetensors'));
      expect([...(await w.tensor('a')).data]).toEqual([1, 2]);
      expect(await w.tensor('b')).toMatchObject({ dtype: 'i32', shape: [1] });
      expect(await w.tensor('c')).toMatchObject({ dtype: 'f32', shape: [2, 1], sourceDtype: 'BF16' });
      expect([...(await w.tensor('c')).data]).toEqual([0.5, 4]);
      const all = await w.loadAll();
      expect([...all.keys()].sort()).toEqual(['a', 'b', 'c']);
      await expect(w.tensor('d')).rejects.toThrow(/model\.safetensors\.index\.json: tensor "d": not found/);
    } finally {
      await w.close();
    }
  });

  it('refuses an index that disagrees with its shards', async () => {
    const missing = shardedFolder((m) => ({ weight_map: { ...m, ghost: 'model-00002-of-00002.safetensors' } }));
    await expect(openHfWeights(missing)).rejects.toThrow(/weight_map\["ghost"\]: is mapped to model-00002-of-00002\.safetensors, which has no such tensor/);

    const unlisted = shardedFolder((m) => ({ weight_map: { a: m.a, c: m.c } }));
    await expect(openHfWeights(unlisted)).rejects.toThrow(/shard model-00001-of-00002\.safetensors holds 1 tensor\(s\) the weight_map does not assign to it, e\.g\. "b"/);

    const noFile = shardedFolder((m) => ({ weight_map: { ...m, c: 'model-00003.safetensors' } }));
    await expect(openHfWeights(noFile)).rejects.toThrow(/weight_map \(shard "model-00003\.safetensors"\): shard file .*model-00003\.safetensors does not exist/);

    const escape = shardedFolder((m) => ({ weight_map: { ...m, c: '../x.safetensors' } }));
    await expect(openHfWeights(escape)).rejects.toThrow(/weight_map\["c"\]: shard must be a file name in the same folder/);

    const noMap = shardedFolder(() => ({ metadata: {} }));
    await expect(openHfWeights(noMap)).rejects.toThrow(/weight_map: must be an object of tensor name -> shard file name/);
  });

  it('reports a truncated shard with its path', async () => {
    const dir = shardedFolder();
    const shard = join(dir, 'model-00002-of-00002.safetensors');
    const bytes = readFileSync(shard);
    writeFileSync(shard, bytes.subarray(0, bytes.length - 1));
    await expect(openHfWeights(dir)).rejects.toThrow(/model-00002-of-00002\.safetensors: tensor "c": data_offsets \[0, 4\] extend beyond the data section \(3 bytes\)/);
  });

  it('says what a folder lacks', async () => {
    await expect(openHfWeights(tempDir())).rejects.toThrow(/neither model\.safetensors\.index\.json nor model\.safetensors/);
    await expect(openHfWeights(join(tempDir(), 'nope'))).rejects.toThrow(/no such file or folder/);
  });
});

const HF_MODEL = 'models/stories260K-hf/model.safetensors';
const haveModel = haveAssets(HF_MODEL);
describe.skipIf(!haveModel)(`safetensors files by path${skipNote(haveModel)}`, () => {
  it('readSafetensorsFile and the lazy file reader match the in-memory reader', async () => {
    const path = asset(HF_MODEL);
    const inMemory = readSafetensors(new Uint8Array(readFileSync(path)), path);
    const fromFile = await readSafetensorsFile(path);
    expect(fromFile.metadata).toEqual(inMemory.metadata);
    expect([...fromFile.tensors.keys()]).toEqual([...inMemory.tensors.keys()]);
    for (const [name, t] of inMemory.tensors) expectSameTensor(fromFile.tensors.get(name), t);

    const w = await openHfWeights(asset('models/stories260K-hf'));
    try {
      expect(w).toBeInstanceOf(SafetensorsFile);
      expectSameTensor(await w.tensor('model.norm.weight'), inMemory.tensors.get('model.norm.weight')!);
    } finally {
      await w.close();
    }
  });
});
