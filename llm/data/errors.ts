// The error every data problem becomes: which file, which line/row, which field, and what is wrong.
// Row-level errors can be skipped and counted (skipInvalid); file-level ones (a JSON array that does
// not parse, an unterminated CSV quote) always throw.
import { formatLocation, type RecordLocation } from './records.ts';

export class DataError extends Error {
  readonly source: string;
  readonly row: number | undefined;
  readonly line: number | undefined;
  /** The field at fault as a path ("messages[2].content"), when one is. */
  readonly field: string | undefined;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(location: RecordLocation | { source: string; line?: number }, reason: string, field?: string) {
    const where = 'cite' in location ? formatLocation(location) : location.line === undefined ? location.source : `${location.source}:${location.line}`;
    super(field === undefined ? `${where}: ${reason}` : `${where}: ${field}: ${reason}`);
    this.name = 'DataError';
    this.source = location.source;
    this.row = 'row' in location ? location.row : undefined;
    this.line = location.line;
    this.field = field;
    this.reason = reason;
  }
}
