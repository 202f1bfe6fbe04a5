// Node/Deno: SFT data from files. A path may be a file or a folder laid out as mlx-lm expects
// (train.jsonl, valid.jsonl; any supported extension). The validation set is a separate file or
// folder (`valid`), else `valFraction` of the training rows drawn by `seed`, else none.
import { joinPath, pathKind } from '../io/node-fs.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { buildSftDataset, type SftDataset, type SftDatasetOptions } from './dataset.ts';
import { readDataFile, readDataFiles } from './files.ts';
import { DATA_FILE_EXTENSIONS, type ReadDataOptions } from './read.ts';
import type { RawRecord } from './records.ts';
import { splitTrainVal } from './split.ts';

export interface LoadSftOptions extends SftDatasetOptions, ReadDataOptions {
  /** Validation data: a file, files, or a folder holding valid.* (default: the train folder's valid.*). */
  valid?: string | string[];
  /** Otherwise hold out this share of the training rows. */
  valFraction?: number;
  /** Seed of the held-out draw. Default 0. */
  seed?: number;
}

export interface SftSplits {
  train: SftDataset;
  /** Null when there is no validation data. */
  val: SftDataset | null;
}

/** The file `<dir>/<stem>.<ext>` for the first supported extension present (plus .gz). */
async function findSplitFile(dir: string, stem: string): Promise<string | null> {
  for (const ext of Object.keys(DATA_FILE_EXTENSIONS)) {
    for (const suffix of [ext, `${ext}.gz`]) {
      const p = joinPath(dir, stem + suffix);
      if ((await pathKind(p)) === 'file') return p;
    }
  }
  return null;
}

export async function resolvePaths(paths: string | string[], stem: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of Array.isArray(paths) ? paths : [paths]) {
    const kind = await pathKind(p);
    if (kind === 'directory') {
      const f = await findSplitFile(p, stem);
      if (!f) throw new Error(`${p}: folder has no ${stem}.{${Object.keys(DATA_FILE_EXTENSIONS).map((e) => e.slice(1)).join(',')}}`);
      out.push(f);
    } else if (kind === 'file') out.push(p);
    else throw new Error(`${p}: no such file or folder`);
  }
  return out;
}

/** Reads and tokenizes SFT data from files (no split). */
export async function loadSftDataset(paths: string | string[], tokenizer: Tokenizer, options: SftDatasetOptions & ReadDataOptions = {}): Promise<SftDataset> {
  return buildSftDataset(await readDataFiles(await resolvePaths(paths, 'train'), options), tokenizer, options);
}

export interface SplitSource extends ReadDataOptions {
  valid?: string | string[];
  valFraction?: number;
  seed?: number;
}

/**
 * The raw rows of a training path and its validation split (a `valid` path, else the train
 * folder's valid.*, else `valFraction` of the training rows drawn by `seed`, else none). Shared by
 * the SFT and preference loaders.
 */
export async function readSplitRecords(train: string | string[], options: SplitSource = {}): Promise<{ train: RawRecord[]; val: RawRecord[] | null }> {
  const trainRows = await readDataFiles(await resolvePaths(train, 'train'), options);
  let valRows: RawRecord[] | null = null;
  if (options.valid !== undefined) {
    valRows = await readDataFiles(await resolvePaths(options.valid, 'valid'), options);
  } else if (!(options.valFraction && options.valFraction > 0) && typeof train === 'string' && (await pathKind(train)) === 'directory') {
    const f = await findSplitFile(train, 'valid');
    if (f) valRows = await readDataFile(f, options);
  }
  let trainPart: RawRecord[] = trainRows;
  if (valRows === null && options.valFraction !== undefined && options.valFraction > 0) {
    const split = splitTrainVal(trainRows, { valFraction: options.valFraction, seed: options.seed });
    trainPart = split.train;
    valRows = split.val;
  }
  return { train: trainPart, val: valRows };
}

/** Training data and its validation split. */
export async function loadSftSplits(train: string | string[], tokenizer: Tokenizer, options: LoadSftOptions = {}): Promise<SftSplits> {
  const rows = await readSplitRecords(train, options);
  return {
    train: buildSftDataset(rows.train, tokenizer, options),
    val: rows.val === null ? null : buildSftDataset(rows.val, tokenizer, options),
  };
}
