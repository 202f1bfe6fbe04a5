// Hugging Face weight files on disk (Node/Deno): one model.safetensors, or shards listed by
// model.safetensors.index.json ({ metadata, weight_map: tensor name -> shard file }).
// Shards are opened by file handle and only their headers are read up front; each tensor's bytes
// are read and converted when asked for, so a checkpoint larger than memory-as-f32 can be streamed.
import { FormatError } from './format-error.ts';
import { baseName, dirName, joinPath, openFileRangeReader, pathKind, readTextFile, type FileRangeReader } from './node-fs.ts';
import { missingTensorError } from './safetensors.ts';
import { decodeSafetensor } from './safetensors-decode.ts';
import { parseSafetensorsHeader, readHeaderLength, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header.ts';
import type { TensorData } from './tensor-data.ts';

/** Lazy access to a set of named tensors, from one file or many shards. */
export interface WeightSource {
  /** All tensor names (data order within each file, files in index order). */
  readonly names: string[];
  has(name: string): boolean;
  info(name: string): SafetensorsTensorInfo;
  /** Reads and converts one tensor. */
  tensor(name: string): Promise<TensorData>;
  /** Reads every tensor (for small models). */
  loadAll(): Promise<Map<string, TensorData>>;
  close(): Promise<void>;
}

/** One safetensors file read by ranges: the header now, each tensor on demand. */
export class SafetensorsFile implements WeightSource {
  private constructor(
    readonly header: SafetensorsHeader,
    private readonly file: FileRangeReader,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const file = await openFileRangeReader(path);
    try {
      const prefix = await file.read(0, Math.min(8, file.size));
      const n = readHeaderLength(prefix, file.size, path);
      const headerBytes = await file.read(0, 8 + n);
      return new SafetensorsFile(parseSafetensorsHeader(headerBytes, file.size, path), file);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  get path(): string {
    return this.file.path;
  }

  get metadata(): Record<string, string> | null {
    return this.header.metadata;
  }

  get names(): string[] {
    return this.header.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.header.byName.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.header.byName.get(name);
    if (!info) throw missingTensorError(this.path, name, this.names);
    return info;
  }

  async tensor(name: string): Promise<TensorData> {
    const info = this.info(name);
    const [b, e] = info.dataOffsets;
    const bytes = await this.file.read(this.header.dataStart + b, e - b);
    return decodeSafetensor(info, bytes, 0, this.path);
  }

  async loadAll(): Promise<Map<string, TensorData>> {
    const out = new Map<string, TensorData>();
    for (const name of this.names) out.set(name, await this.tensor(name));
    return out;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** Reads a whole safetensors file by path (by ranges, so files beyond Node's 2 GB readFile limit work). */
export async function readSafetensorsFile(
  path: string,
): Promise<{ metadata: Record<string, string> | null; tensors: Map<string, TensorData> }> {
  const file = await SafetensorsFile.open(path);
  try {
    return { metadata: file.metadata, tensors: await file.loadAll() };
  } finally {
    await file.close();
  }
}

/** Tensors spread over shards, addressed through the index's weight_map. */
export class ShardedSafetensors implements WeightSource {
  private constructor(
    readonly indexPath: string,
    /** The index's "metadata" object (e.g. { total_size }), as written. */
    readonly indexMetadata: Record<string, unknown> | null,
    private readonly shardOfName: Map<string, SafetensorsFile>,
    private readonly shards: SafetensorsFile[],
  ) {}

  /**
   * Opens every shard named in the index and checks the index against the shard headers: each
   * weight_map entry must exist in its shard, and each shard tensor must be listed for that shard.
   */
  static async open(indexPath: string): Promise<ShardedSafetensors> {
    let index: unknown;
    try {
      index = JSON.parse(await readTextFile(indexPath));
    } catch (e) {
      throw new FormatError(indexPath, `not a readable JSON file (${(e as Error).message})`);
    }
    if (typeof index !== 'object' || index === null || Array.isArray(index)) throw new FormatError(indexPath, 'must be a JSON object');
    const { weight_map: weightMap, metadata } = index as Record<string, unknown>;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new FormatError(indexPath, 'must be an object of tensor name -> shard file name', 'weight_map');
    }
    if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))) {
      throw new FormatError(indexPath, 'must be an object', 'metadata');
    }
    const shardNames: string[] = [];
    const namesByShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap)) {
      if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard === '..' || shard === '.') {
        throw new FormatError(indexPath, `shard must be a file name in the same folder, got ${JSON.stringify(shard)}`, `weight_map["${name}"]`);
      }
      if (!namesByShard.has(shard)) {
        namesByShard.set(shard, []);
        shardNames.push(shard);
      }
      namesByShard.get(shard)!.push(name);
    }
    if (shardNames.length === 0) throw new FormatError(indexPath, 'lists no tensors', 'weight_map');

    const dir = dirName(indexPath);
    const shards: SafetensorsFile[] = [];
    const shardOfName = new Map<string, SafetensorsFile>();
    try {
      for (const shardName of shardNames) {
        const path = joinPath(dir, shardName);
        if ((await pathKind(path)) !== 'file') {
          throw new FormatError(indexPath, `shard file ${path} does not exist`, `weight_map (shard "${shardName}")`);
        }
        const shard = await SafetensorsFile.open(path);
        shards.push(shard);
        const listed = namesByShard.get(shardName)!;
        for (const name of listed) {
          if (!shard.has(name)) {
            throw new FormatError(indexPath, `is mapped to ${shardName}, which has no such tensor`, `weight_map["${name}"]`);
          }
          shardOfName.set(name, shard);
        }
        const listedSet = new Set(listed);
        const extra = shard.names.filter((n) => !listedSet.has(n));
        if (extra.length) {
          throw new FormatError(indexPath, `shard ${shardName} holds ${extra.length} tensor(s) the weight_map does not assign to it, e.g. "${extra[0]}"`, 'weight_map');
        }
      }
    } catch (e) {
      await Promise.all(shards.map((s) => s.close()));
      throw e;
    }
    return new ShardedSafetensors(indexPath, (metadata as Record<string, unknown> | undefined) ?? null, shardOfName, shards);
  }

  get names(): string[] {
    return this.shards.flatMap((s) => s.names);
  }

  has(name: string): boolean {
    return this.shardOfName.has(name);
  }

  /** Which shard file holds a tensor. */
  shardOf(name: string): string {
    return this.shard(name).path;
  }

  info(name: string): SafetensorsTensorInfo {
    return this.shard(name).info(name);
  }

  async tensor(name: string): Promise<TensorData> {
    return this.shard(name).tensor(name);
  }

  async loadAll(): Promise<Map<string, TensorData>> {
    const out = new Map<string, TensorData>();
    for (const shard of this.shards) for (const [k, v] of await shard.loadAll()) out.set(k, v);
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }

  private shard(name: string): SafetensorsFile {
    const shard = this.shardOfName.get(name);
    if (!shard) throw missingTensorError(this.indexPath, name, [...this.shardOfName.keys()]);
    return shard;
  }
}

export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
export const SAFETENSORS_SINGLE_FILE = 'model.safetensors';

/**
 * Opens a model's weights from a folder (model.safetensors.index.json preferred, else
 * model.safetensors), from an index file, or from a single .safetensors file.
 */
export async function openHfWeights(path: string): Promise<WeightSource> {
  const kind = await pathKind(path);
  if (kind === 'file') {
    return baseName(path).endsWith('.index.json') ? ShardedSafetensors.open(path) : SafetensorsFile.open(path);
  }
  if (kind !== 'directory') throw new FormatError(path, 'no such file or folder');
  const index = joinPath(path, SAFETENSORS_INDEX_FILE);
  if ((await pathKind(index)) === 'file') return ShardedSafetensors.open(index);
  const single = joinPath(path, SAFETENSORS_SINGLE_FILE);
  if ((await pathKind(single)) === 'file') return SafetensorsFile.open(single);
  throw new FormatError(path, `folder has neither ${SAFETENSORS_INDEX_FILE} nor ${SAFETENSORS_SINGLE_FILE}`);
}
