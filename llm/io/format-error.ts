// One error type for every file reader in llm/io and llm/tokenizers, so callers can tell a
// malformed file from a bug, and every message names the file and the field/tensor at fault.

export class FormatError extends Error {
  readonly file: string;
  readonly field: string | undefined;

  constructor(file: string, message: string, field?: string) {
    super(field === undefined ? `${file}: ${message}` : `${file}: ${field}: ${message}`);
    this.name = 'FormatError';
    this.file = file;
    this.field = field;
  }
}
