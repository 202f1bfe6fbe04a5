// CSV (RFC 4180) and TSV: the first record is the header; each later record becomes an object of
// strings keyed by it. Quoted fields may hold the delimiter, newlines and doubled quotes ("").
// Line endings may be LF, CRLF or CR. Blank lines are skipped, as pandas and Python's csv do.
// A record with the wrong number of fields, or text after a closing quote, is a row error (it can
// be skipped); an unterminated quote breaks the rest of the file and throws.
import { DataError } from './errors.ts';
import type { RawRecord } from './records.ts';
import { stripBom } from './text.ts';

export interface CsvOptions {
  /** Field separator. Default ',' (use '\t' for TSV). */
  delimiter?: string;
}

interface CsvRecord {
  fields: string[];
  /** 1-based line the record starts on. */
  line: number;
  error?: string;
}

/** Splits CSV text into records of raw fields (no header handling). */
export function parseCsvRecords(text: string, source: string, delimiter = ','): CsvRecord[] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new Error(`CSV delimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`);
  }
  text = stripBom(text);
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let error: string | undefined;
    let quoted = false;
    // One record: fields until an unquoted line break or the end of the text.
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        const quoteLine = line;
        quoted = true;
        i++;
        for (;;) {
          if (i >= n) throw new DataError({ source, line: quoteLine }, 'unterminated quoted field (a " opened here is never closed)');
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
          field += c;
          i++;
        }
        // After the closing quote only a delimiter or a line break may follow.
        if (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') {
          error ??= `field ${fields.length + 1}: unexpected text after a closing quote (quotes inside a quoted field must be doubled: "")`;
          while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
        }
      } else {
        while (i < n && text[i] !== delimiter && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      }
      fields.push(field);
      if (i < n && text[i] === delimiter) {
        i++;
        continue;
      }
      break;
    }
    // End of record: consume one line break (CRLF, LF or CR).
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    const blank = !quoted && fields.length === 1 && fields[0] === '';
    if (!blank) records.push({ fields, line: start, error });
  }
  return records;
}

/** CSV rows as objects keyed by the header. */
export function parseCsv(text: string, source: string, options: CsvOptions = {}): RawRecord[] {
  const records = parseCsvRecords(text, source, options.delimiter ?? ',');
  if (records.length === 0) return [];
  const [header, ...rows] = records;
  if (header.error) throw new DataError({ source, line: header.line }, `header: ${header.error}`);
  const seen = new Set<string>();
  for (const name of header.fields) {
    if (seen.has(name)) throw new DataError({ source, line: header.line }, `header: column ${JSON.stringify(name)} appears twice`);
    seen.add(name);
  }
  return rows.map((r, k) => {
    const at = { source, row: k + 1, line: r.line, cite: 'line' as const };
    if (r.error) return { ...at, parseError: `malformed CSV: ${r.error}` };
    if (r.fields.length !== header.fields.length) {
      return { ...at, parseError: `malformed CSV: has ${r.fields.length} fields but the header has ${header.fields.length} (${header.fields.join(', ')})` };
    }
    const value: Record<string, string> = {};
    header.fields.forEach((name, j) => (value[name] = r.fields[j]));
    return { ...at, value };
  });
}
