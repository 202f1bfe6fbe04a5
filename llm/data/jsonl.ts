// JSON Lines: one JSON value per line; blank lines are skipped (their numbers still count, so errors
// point at the line an editor shows). A line that does not parse becomes a row with parseError, so
// one bad line can be skipped (skipInvalid) without losing the rest of the file.
import type { RawRecord } from './records.ts';
import { jsonErrorMessage, stripBom } from './text.ts';

export function parseJsonl(text: string, source: string): RawRecord[] {
  const lines = stripBom(text).split('\n');
  const records: RawRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    // JSON strings cannot hold a raw newline, so splitting on '\n' never cuts a value; '\r' is CRLF.
    const body = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (body.trim() === '') continue;
    const at = { source, row: records.length + 1, line: i + 1, cite: 'line' as const };
    try {
      records.push({ ...at, value: JSON.parse(body) });
    } catch (e) {
      records.push({ ...at, parseError: `not valid JSON (${jsonErrorMessage(e, body)})` });
    }
  }
  return records;
}
