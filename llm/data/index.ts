// SFT and preference training data: read files (JSONL, JSON, CSV/TSV, Parquet, .gz), recognise and validate row
// formats, tokenize with loss masks, and batch (padding or packing) with a resumable iterator.
// Browser-safe except load.ts/files.ts (paths; Node/Deno).
export { ALPACA_STANFORD_TRAIN, ALPACA_TEMPLATE, alpacaPrompt } from './alpaca.ts';
export type { AlpacaTemplate } from './alpaca.ts';
export { CHATML_TEMPLATE, NAMED_CHAT_TEMPLATES, resolveChatTemplate, withChatTemplate } from './chat-templates.ts';
export { packable, packedBatch, packExamples, padBatch, PackedRow } from './collate.ts';
export type { Batch, PackingOptions, PaddingOptions } from './collate.ts';
export { parseCsv, parseCsvRecords } from './csv.ts';
export type { CsvOptions } from './csv.ts';
export { buildSftDataset } from './dataset.ts';
export type { SftDataset, SftDatasetOptions, SftDatasetStats, SftExample, SftField } from './dataset.ts';
export { DataError } from './errors.ts';
export { readDataFile, readDataFiles } from './files.ts';
export { DEFAULT_ROLES, detectFormat, FORMAT_SHAPES, readMessages, readTools, requireString, RowError, SFT_FORMATS, SHAREGPT_ROLES, typeName, validateRow } from './formats.ts';
export type { SftFormat, SftRow, ValidateOptions } from './formats.ts';
export { gunzip, isGzip } from './gzip.ts';
export { BatchIterator, padIdOf, sftBatchIterator } from './iterator.ts';
export type { BatchIteratorOptions, Collate, CollateFn, EpochBatch, IteratorState, SftBatchOptions } from './iterator.ts';
export { arrayElementLines, parseJsonFile } from './json-array.ts';
export { parseJsonl } from './jsonl.ts';
export { commonPrefixLength, countLossTokens, IGNORE_INDEX } from './labels.ts';
export type { TokenizedExample } from './labels.ts';
export { loadSftDataset, loadSftSplits, readSplitRecords } from './load.ts';
export type { LoadSftOptions, SftSplits, SplitSource } from './load.ts';
export * from './preference/index.ts';
export { parseParquet } from './parquet.ts';
export { DATA_FILE_EXTENSIONS, dataFileFormat, parseDataBytes } from './read.ts';
export type { DataFileFormat, ReadDataOptions } from './read.ts';
export { formatLocation } from './records.ts';
export type { RawRecord, RecordLocation } from './records.ts';
export { permutation } from './shuffle.ts';
export { splitTrainVal } from './split.ts';
export type { SplitOptions } from './split.ts';
export { tokenizeRow } from './tokenize.ts';
export type { TokenizeOptions, TokenizeResult } from './tokenize.ts';
export { buildPromptDataset, loadPromptSplits } from './prompts.ts';
export type { PromptExample, PromptDatasetOptions } from './prompts.ts';
