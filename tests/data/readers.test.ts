// Readers: JSONL, JSON arrays, CSV/TSV, gzip, by hand-written text whose rows and line numbers are
// known, so every expectation is written out here rather than taken from the code.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { arrayElementLines, parseJsonFile } from '../../llm/data/json-array.ts';
import { parseJsonl } from '../../llm/data/jsonl.ts';
import { parseCsv, parseCsvRecords } from '../../llm/data/csv.ts';
import { dataFileFormat, parseDataBytes } from '../../llm/data/read.ts';
import { DataError } from '../../llm/data/errors.ts';
import { formatLocation } from '../../llm/data/records.ts';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('JSONL', () => {
  it('reads one row per line with 1-based line numbers, skipping blank lines', () => {
    const recs = parseJsonl('{"a":1}\r\n\n  \n{"a":2}\n{"a":3}', 'd.jsonl');
    expect(recs.map((r) => [r.row, r.line, r.value])).toEqual([
      [1, 1, { a: 1 }],
      [2, 4, { a: 2 }],
      [3, 5, { a: 3 }],
    ]);
    expect(formatLocation(recs[1])).toBe('d.jsonl:4');
  });

  it('keeps a bad line as a row with the parser message and goes on', () => {
    const recs = parseJsonl('{"a":1}\n{"a":2}\n{"a": 3,}\n{"a":4}\n', 'd.jsonl');
    expect(recs).toHaveLength(4);
    expect(recs[2].line).toBe(3);
    expect(recs[2].value).toBeUndefined();
    expect(recs[2].parseError).toMatch(/^not valid JSON \(.+\)$/);
    expect(recs[3].value).toEqual({ a: 4 });
  });

  it('drops a UTF-8 BOM', () => {
    expect(parseJsonl('\uFEFF{"x":"y"}', 'b.jsonl')[0].value).toEqual({ x: 'y' });
  });
});

describe('JSON files', () => {
  it('reads a top-level array and finds the line each element starts on', () => {
    const text = '[\n  {"t": "a,[b]"},\n  {"t": "c\\"}{"},\n\n  {"t": {"n": [1, 2]}}\n]\n';
    const recs = parseJsonFile(text, 'd.json');
    expect(recs.map((r) => [r.row, r.line])).toEqual([
      [1, 2],
      [2, 3],
      [3, 5],
    ]);
    expect(recs[1].value).toEqual({ t: 'c"}{' });
    expect(formatLocation(recs[2])).toBe('d.json row 3 (line 5)');
  });

  it('finds element lines on a one-line array', () => {
    expect(arrayElementLines('[{"a":1},{"a":2}, 3, "x"]')).toEqual([1, 1, 1, 1]);
    expect(arrayElementLines('[]')).toEqual([]);
  });

  it('reads JSON Lines saved as .json (as Hugging Face datasets does) and a single object', () => {
    expect(parseJsonFile('{"a":1}\n{"a":2}\n', 'l.json').map((r) => r.value)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseJsonFile('\n{\n  "a": 1\n}\n', 'o.json').map((r) => [r.line, r.value])).toEqual([[2, { a: 1 }]]);
  });

  it('a broken array is a file error with the line', () => {
    const bad = '[\n {"a": 1},\n {"a": 2,}\n]';
    expect(() => parseJsonFile(bad, 'bad.json')).toThrow(DataError);
    expect(() => parseJsonFile(bad, 'bad.json')).toThrow(/^bad\.json: not valid JSON \(.*line 3/);
  });
});

describe('CSV', () => {
  it('parses quoted fields with delimiters, doubled quotes and newlines (LF, CRLF, CR)', () => {
    const text = 'prompt,completion\r\n"Say ""hi"", then stop","line one\r\nline two"\r\nplain,"a,b"\rlast,\n';
    const recs = parseCsv(text, 'd.csv');
    expect(recs.map((r) => r.value)).toEqual([
      { prompt: 'Say "hi", then stop', completion: 'line one\r\nline two' },
      { prompt: 'plain', completion: 'a,b' },
      { prompt: 'last', completion: '' },
    ]);
    // Row 1 starts on line 2; its quoted newline pushes row 2 to line 4.
    expect(recs.map((r) => [r.row, r.line])).toEqual([
      [1, 2],
      [2, 4],
      [3, 5],
    ]);
  });

  it('keeps a quoted empty field and skips blank lines', () => {
    expect(parseCsvRecords('a\n\n""\n\nb', 'x.csv').map((r) => [r.fields, r.line])).toEqual([
      [['a'], 1],
      [[''], 3],
      [['b'], 5],
    ]);
  });

  it('reports a wrong field count as a row error with its line', () => {
    const recs = parseCsv('a,b\n1,2\n1,2,3\n4,5\n', 'd.csv');
    expect(recs[1].parseError).toMatch(/has 3 fields but the header has 2/);
    expect(recs[1].line).toBe(3);
    expect(recs[2].value).toEqual({ a: '4', b: '5' });
  });

  it('reports text after a closing quote as a row error', () => {
    const recs = parseCsv('a,b\n"x"y,2\n3,4\n', 'd.csv');
    expect(recs[0].parseError).toMatch(/unexpected text after a closing quote/);
    expect(recs[1].value).toEqual({ a: '3', b: '4' });
  });

  it('an unterminated quote throws naming the line it opened on', () => {
    expect(() => parseCsv('a,b\n1,2\n3,"open\nmore\n', 'd.csv')).toThrow(/^d\.csv:3: unterminated quoted field/);
  });

  it('duplicate header names are refused', () => {
    expect(() => parseCsv('a,a\n1,2\n', 'd.csv')).toThrow(/column "a" appears twice/);
  });

  it('reads TSV by extension', async () => {
    const recs = await parseDataBytes(utf8('text\tid\n"a\tb"\t1\n'), 'x.tsv');
    expect(recs[0].value).toEqual({ text: 'a\tb', id: '1' });
  });
});

describe('file types and gzip', () => {
  it('maps names to formats', () => {
    expect(dataFileFormat('a/train.JSONL')).toEqual({ format: 'jsonl', gzip: false });
    expect(dataFileFormat('x.jsonl.gz')).toEqual({ format: 'jsonl', gzip: true });
    expect(dataFileFormat('x.parquet')).toEqual({ format: 'parquet', gzip: false });
    expect(dataFileFormat('x.txt')).toBeNull();
  });

  it('gunzips .jsonl.gz (compressed here by node:zlib)', async () => {
    const text = '{"text":"é ü 🙂"}\n{"text":"two"}\n';
    const recs = await parseDataBytes(new Uint8Array(gzipSync(text)), 'x.jsonl.gz');
    expect(recs.map((r) => r.value)).toEqual([{ text: 'é ü 🙂' }, { text: 'two' }]);
  });

  it('refuses unknown extensions and invalid UTF-8', async () => {
    await expect(parseDataBytes(utf8('x'), 'x.txt')).rejects.toThrow(/unknown data file type/);
    await expect(parseDataBytes(new Uint8Array([0x7b, 0xff, 0x7d]), 'x.jsonl')).rejects.toThrow(/not valid UTF-8/);
  });

  it('damaged gzip is an error naming the file', async () => {
    const gz = new Uint8Array(gzipSync('{"a":1}\n'));
    await expect(parseDataBytes(gz.slice(0, gz.length - 6), 'cut.jsonl.gz')).rejects.toThrow(/cut\.jsonl\.gz: gzip data is damaged/);
  });
});
