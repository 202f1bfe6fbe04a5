// The preview of a dropped data file: the CLI's parsers read it (format from the name, gzip from the
// bytes), the method's dataset builder validates and tokenizes every row with the run's settings,
// and the page gets counts, the detected row formats and the first errors with file, line and field.
import { buildKtoDataset, buildPreferenceDataset, buildSftDataset, detectFormat, fileSystem, optionValue, parseDataBytes, type Tokenizer, type TrainOptionValues } from '../../../llm/index.ts';
import type { DataPreview } from '../protocol.ts';

export const DATA_DIR = '/data';

export async function previewData(path: string, name: string, tokenizer: Tokenizer, v: TrainOptionValues, maxPositions: number): Promise<DataPreview> {
  const bytes = await fileSystem().readFile(path);
  const records = await parseDataBytes(bytes, name);
  const method = optionValue(v, 'method') as string;
  const opts = {
    skipInvalid: true, maxReportedErrors: 5, maxLength: (optionValue(v, 'max-length') as number | undefined) ?? Math.min(1024, maxPositions),
    chatTemplate: optionValue(v, 'chat-template') as string | undefined,
  };
  const formats: Record<string, number> = {};
  for (const r of records) {
    const f = r.value && typeof r.value === 'object' && !Array.isArray(r.value) ? (method === 'sft' ? detectFormat(r.value as Record<string, unknown>) : 'object') : null;
    formats[f ?? 'unrecognised'] = (formats[f ?? 'unrecognised'] ?? 0) + 1;
  }
  const head = records.slice(0, 5).map((r) => (r.parseError ? `(line ${r.line ?? r.row}: ${r.parseError})` : JSON.stringify(r.value)).slice(0, 400));
  if (method === 'sft') {
    const d = buildSftDataset(records, tokenizer, { ...opts, completionOnly: !optionValue(v, 'train-on-prompt') });
    const s = d.stats;
    return { name, bytes: bytes.length, rows: s.rows, formats, examples: s.examples, invalid: s.invalid, tokens: s.tokens, lossTokens: s.lossTokens, truncated: s.truncated, errors: s.errors.map((e) => e.message), head };
  }
  const d = method === 'kto' ? buildKtoDataset(records, tokenizer, opts) : buildPreferenceDataset(records, tokenizer, opts);
  const s = d.stats;
  return { name, bytes: bytes.length, rows: s.rows, formats, examples: s.examples, invalid: s.invalid, tokens: 0, lossTokens: 0, truncated: s.truncated, errors: s.errors.map((e) => e.message), head };
}
