// Reading and writing result files (Node and Deno; the browser page downloads instead).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BenchFile } from './schema.ts';
import { validateBenchFile } from './validate.ts';

export function readBenchFile(path: string): BenchFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message})`);
  }
  return validateBenchFile(json, path);
}

export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path) || '.', { recursive: true });
  writeFileSync(path, text);
}

/** Validates before writing, so a file this code writes is always one it can read. */
export function writeBenchFile(path: string, f: BenchFile): void {
  validateBenchFile(f, path);
  writeText(path, JSON.stringify(f, null, 1) + '\n');
}
