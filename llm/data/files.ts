// Node/Deno only: data files by path. Kept apart from the parsers so a browser bundle can parse
// bytes it got from a file input or fetch() without pulling in node:fs.
import { readFileBytes } from '../io/node-fs.ts';
import { parseDataBytes, type ReadDataOptions } from './read.ts';
import type { RawRecord } from './records.ts';

export async function readDataFile(path: string, options: ReadDataOptions = {}): Promise<RawRecord[]> {
  return parseDataBytes(await readFileBytes(path), path, options);
}

/** Rows of several files, in order (each row keeps its own file and line). */
export async function readDataFiles(paths: readonly string[], options: ReadDataOptions = {}): Promise<RawRecord[]> {
  const parts = await Promise.all(paths.map((p) => readDataFile(p, options)));
  return parts.flat();
}
