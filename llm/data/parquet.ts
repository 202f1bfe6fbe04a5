// Parquet (what the Hugging Face Hub stores datasets as) through hyparquet, which reads nested
// columns such as messages: list<struct<role, content>> into plain objects. Reads from bytes, so it
// works in a browser as well. Snappy and uncompressed pages are built in; gzip/zstd/brotli pages need
// hyparquet-compressors, which is not a dependency (the error says so).
import { parquetReadObjects } from 'hyparquet';
import type { RawRecord } from './records.ts';

export async function parseParquet(bytes: Uint8Array, source: string): Promise<RawRecord[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file });
  } catch (e) {
    throw new Error(`${source}: cannot read Parquet (${(e as Error).message})`);
  }
  return rows.map((value, i) => ({ source, row: i + 1, cite: 'row' as const, value: plainNumbers(value) }));
}

/** int64 columns arrive as BigInt; JSON-like rows want numbers (exact ones only). */
function plainNumbers(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(plainNumbers);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plainNumbers(x);
    return out;
  }
  return v;
}
