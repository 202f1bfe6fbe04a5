// One row as a reader hands it over: the parsed value (or why it could not be parsed) and where it
// came from, so every later error can name the file and the line or row at fault.

export interface RecordLocation {
  /** The file (or name) the row was read from. */
  source: string;
  /** 1-based index of the row among the file's rows (header and blank lines not counted). */
  row: number;
  /** 1-based line the row starts on, where the format has lines (JSONL, CSV, JSON arrays). */
  line?: number;
  /** How to point at the row: by line for line-oriented files (JSONL, CSV), else by row. */
  cite: 'line' | 'row';
}

export interface RawRecord extends RecordLocation {
  /** The parsed row (undefined when parseError is set). */
  value?: unknown;
  /** Set when the row could not be parsed (bad JSON on this line, wrong CSV field count, ...). */
  parseError?: string;
}

/** "data.jsonl:3" for line-oriented files, "data.json row 5 (line 12)" / "data.parquet row 5" otherwise. */
export function formatLocation(loc: RecordLocation): string {
  if (loc.cite === 'line' && loc.line !== undefined) return `${loc.source}:${loc.line}`;
  return loc.line === undefined ? `${loc.source} row ${loc.row}` : `${loc.source} row ${loc.row} (line ${loc.line})`;
}
