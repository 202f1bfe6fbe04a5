// Bytes of a data file -> rows, by file name: .jsonl/.ndjson, .json, .csv, .tsv, .parquet, each
// optionally .gz-compressed (gzip is also recognised by its magic bytes). Browser-safe: reading a
// path is in files.ts.
import { parseCsv } from './csv.ts';
import { gunzip, isGzip } from './gzip.ts';
import { parseJsonFile } from './json-array.ts';
import { parseJsonl } from './jsonl.ts';
import { parseParquet } from './parquet.ts';
import type { RawRecord } from './records.ts';
import { decodeUtf8 } from './text.ts';

export type DataFileFormat = 'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet';

export const DATA_FILE_EXTENSIONS: Record<string, DataFileFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.parquet': 'parquet',
};

/** The format a file name says, and whether it is gzip-compressed ("train.jsonl.gz"). */
export function dataFileFormat(name: string): { format: DataFileFormat; gzip: boolean } | null {
  const lower = name.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  for (const [ext, format] of Object.entries(DATA_FILE_EXTENSIONS)) if (base.endsWith(ext)) return { format, gzip };
  return null;
}

export interface ReadDataOptions {
  /** Override the file type the name implies. */
  fileFormat?: DataFileFormat;
  /** CSV field separator (default ',' for .csv, tab for .tsv). */
  delimiter?: string;
}

export async function parseDataBytes(bytes: Uint8Array, name: string, options: ReadDataOptions = {}): Promise<RawRecord[]> {
  const format = options.fileFormat ?? dataFileFormat(name)?.format;
  if (!format) {
    const known = Object.keys(DATA_FILE_EXTENSIONS).join(', ');
    throw new Error(`${name}: unknown data file type (expected ${known}, optionally + .gz; or pass fileFormat)`);
  }
  if (isGzip(bytes)) bytes = await gunzip(bytes, name);
  if (format === 'parquet') return parseParquet(bytes, name);
  const text = decodeUtf8(bytes, name);
  switch (format) {
    case 'jsonl':
      return parseJsonl(text, name);
    case 'json':
      return parseJsonFile(text, name);
    case 'csv':
      return parseCsv(text, name, { delimiter: options.delimiter ?? ',' });
    case 'tsv':
      return parseCsv(text, name, { delimiter: options.delimiter ?? '\t' });
  }
}
