// A downloaded fine-tuned adapter → the output folder's adapter/ (PEFT) and adapter-mlx/ (mlx-lm),
// exactly as a local run writes them (both go through convertAdapter, which checks the tensors).
// Providers send a tar archive, compressed with gzip or Zstandard (Together: .tar.zst), or the bare
// files. Zstandard needs a decoder that Node 20's zlib lacks: Node ≥ 22.15's zlib.zstdDecompressSync,
// else the npm package `fzstd` (pure JS) where it is installed.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as zlib from 'node:zlib';
import { convertAdapter } from '../../adapters/files.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from '../../adapters/peft.ts';

const isGzip = (b: Uint8Array) => b[0] === 0x1f && b[1] === 0x8b;
const isZstd = (b: Uint8Array) => b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd;
const isTar = (b: Uint8Array) => b.length >= 512 && new TextDecoder().decode(b.subarray(257, 262)) === 'ustar';

export async function decompress(b: Uint8Array, what: string): Promise<Uint8Array> {
  if (isGzip(b)) return zlib.gunzipSync(b);
  if (!isZstd(b)) return b;
  const native = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Uint8Array }).zstdDecompressSync;
  if (native) return native(b);
  try {
    const specifier = 'fzstd'; // optional: not a literal, so a missing package is a runtime message, not a build error
    const { decompress: fzstd } = (await import(/* @vite-ignore */ specifier)) as { decompress: (b: Uint8Array) => Uint8Array };
    return fzstd(b);
  } catch (e) {
    throw new Error(`${what} is Zstandard-compressed (.tar.zst), which Node ${process.versions.node} cannot decompress (${(e as Error).message}); ` +
      'use Node ≥ 22.15 or `npm install fzstd`, or unpack it with `tar --zstd -xf` and convert the folder with `wgrad convert-adapter`');
  }
}

/** Files of a ustar/GNU/pax tar archive (regular files only), by path. */
export function untar(b: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const text = (o: number, n: number) => new TextDecoder().decode(b.subarray(o, o + n)).replace(/\0.*$/s, '');
  let pos = 0;
  let longName: string | null = null;
  while (pos + 512 <= b.length) {
    if (b.subarray(pos, pos + 512).every((x) => x === 0)) break; // end-of-archive blocks
    const size = parseInt(text(pos + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(b[pos + 156] || 48);
    const prefix = text(pos + 345, 155);
    let name = longName ?? (prefix ? `${prefix}/${text(pos, 100)}` : text(pos, 100));
    longName = null;
    const data = b.subarray(pos + 512, pos + 512 + size);
    if (type === 'L') longName = new TextDecoder().decode(data).replace(/\0.*$/s, '');
    else if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data));
      if (m) longName = m[1];
    } else if (type === '0' || type === '\0' || type === '7') files.set(name.replace(/^\.\//, ''), data);
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Unpacks `bytes` (named `what` in errors) and writes outputDir/adapter and outputDir/adapter-mlx. */
export async function writeDownloadedAdapter(bytes: Uint8Array, what: string, outputDir: string, baseModel: string): Promise<string[]> {
  const raw = await decompress(bytes, what);
  if (!isTar(raw)) throw new Error(`${what}: expected a tar archive of a PEFT adapter (${PEFT_CONFIG_FILE}, ${PEFT_WEIGHTS_FILE}), got ${raw.length} bytes of something else`);
  const files = untar(raw);
  const config = [...files.keys()].find((p) => p.endsWith(PEFT_CONFIG_FILE));
  const weights = config && join(dirname(config), PEFT_WEIGHTS_FILE).replace(/^\.\//, '');
  if (!config || !weights || !files.has(weights)) {
    throw new Error(`${what}: the archive holds no PEFT adapter (${PEFT_CONFIG_FILE} beside ${PEFT_WEIGHTS_FILE}); it has ${[...files.keys()].slice(0, 8).join(', ') || 'no files'}`);
  }
  const tmp = await mkdtemp(join(tmpdir(), 'wgrad-adapter-'));
  try {
    const cfg = JSON.parse(new TextDecoder().decode(files.get(config)!)) as Record<string, unknown>;
    cfg.base_model_name_or_path ??= baseModel;
    await writeFile(join(tmp, PEFT_CONFIG_FILE), JSON.stringify(cfg, null, 2));
    await writeFile(join(tmp, PEFT_WEIGHTS_FILE), files.get(weights)!);
    await mkdir(outputDir, { recursive: true });
    await convertAdapter(tmp, join(outputDir, 'adapter'), 'peft');
    await convertAdapter(tmp, join(outputDir, 'adapter-mlx'), 'mlx');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return ['adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'adapter-mlx/adapter_config.json', 'adapter-mlx/adapters.safetensors'];
}
