// A .json file: a top-level array of rows (what pandas' to_json(orient="records") and torchtune's
// test assets write). Like Hugging Face `datasets`, a .json file that is not one array is read as
// JSON Lines. Each element gets the line it starts on, found by a scan that skips over strings.
import { DataError } from './errors.ts';
import { parseJsonl } from './jsonl.ts';
import type { RawRecord } from './records.ts';
import { jsonErrorMessage, lineColumn, stripBom } from './text.ts';

export function parseJsonFile(text: string, source: string): RawRecord[] {
  text = stripBom(text);
  const first = text.trimStart()[0];
  if (first !== '[') {
    // One pretty-printed object spans lines that are not JSON on their own: read it as one row.
    try {
      const only = JSON.parse(text) as unknown;
      if (only !== null && typeof only === 'object') return [{ source, row: 1, line: lineColumn(text, text.search(/\S/)).line, cite: 'row', value: only }];
    } catch {
      // not a single value: JSON Lines
    }
    return parseJsonl(text, source);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // The array is one value: a syntax error anywhere breaks the whole file.
    throw new DataError({ source }, `not valid JSON (${jsonErrorMessage(e, text)})`);
  }
  const rows = value as unknown[];
  const lines = arrayElementLines(text);
  return rows.map((v, i) => ({ source, row: i + 1, line: lines[i], cite: 'row' as const, value: v }));
}

/** The 1-based line on which each element of a valid top-level JSON array starts. */
export function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let expectValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++; // an escaped character is never a newline in valid JSON
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
    if (depth === 1 && expectValue && c !== ']') {
      lines.push(line);
      expectValue = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectValue = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectValue = true;
  }
  return lines;
}
