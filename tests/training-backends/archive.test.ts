// Downloaded adapters: a gzip-compressed tar (as providers send) unpacks into adapter/ and
// adapter-mlx/ with the weights intact; Zstandard without a decoder says what to install; an archive
// without an adapter names what it holds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readAdapterFolder } from '../../llm/adapters/index.ts';
import { writePeft } from '../../llm/adapters/peft.ts';
import { untar, writeDownloadedAdapter } from '../../llm/backends/cloud/archive.ts';
import { servedAdapter, tarOf } from './contract-server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'wgrad-archive-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('downloaded adapter archives', () => {
  const a = servedAdapter();
  const { config, weights } = writePeft(a);
  const tar = tarOf({ 'out/adapter_config.json': JSON.stringify(config), 'out/adapter_model.safetensors': weights, 'out/README.md': 'x'.repeat(700) });

  it('untar reads every regular file with its bytes', () => {
    const files = untar(tar);
    expect([...files.keys()]).toEqual(['out/adapter_config.json', 'out/adapter_model.safetensors', 'out/README.md']);
    expect(files.get('out/adapter_model.safetensors')).toEqual(weights);
    expect(files.get('out/README.md')!.length).toBe(700);
  });

  it('a .tar.gz becomes PEFT and mlx-lm folders with the same weights', async () => {
    const written = await writeDownloadedAdapter(gzipSync(tar), 'job ft-1', join(tmp, 'gz'), 'base');
    expect(written).toContain('adapter-mlx/adapters.safetensors');
    for (const f of ['adapter', 'adapter-mlx']) {
      const p = await readAdapterFolder(join(tmp, 'gz', f));
      expect(p.modules.size).toBe(10);
    }
    const peft = await readAdapterFolder(join(tmp, 'gz', 'adapter'));
    expect(Array.from(peft.modules.get('model.layers.4.self_attn.v_proj')!.B.data)).toEqual(Array.from(a.modules.get('model.layers.4.self_attn.v_proj')!.B.data));
  });

  it('refuses archives without an adapter, and Zstandard without a decoder, saying what to do', async () => {
    await expect(writeDownloadedAdapter(tarOf({ 'model/config.json': '{}' }), 'job ft-2', join(tmp, 'x'), 'base'))
      .rejects.toThrow('job ft-2: the archive holds no PEFT adapter (adapter_config.json beside adapter_model.safetensors); it has model/config.json');
    const zstdFrame = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    await expect(writeDownloadedAdapter(zstdFrame, 'job ft-3', join(tmp, 'z'), 'base')).rejects.toThrow(/job ft-3|Zstandard|zstd/i);
  });
});
