// Small text helpers shared by the readers.

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 (invalid bytes are an error naming the file, not silent U+FFFD) and drops a BOM. */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new Error(`${source}: not valid UTF-8 text`);
  }
  return stripBom(text);
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/**
 * JSON.parse's message, with "line L column C" added when V8 only gives "position N" (Node 20),
 * so a user can find the spot in a file that is one long line or many.
 */
export function jsonErrorMessage(error: unknown, text: string): string {
  const message = (error as Error).message;
  const m = /at position (\d+)/.exec(message);
  if (!m || /line \d+/.test(message)) return message;
  const { line, column } = lineColumn(text, Number(m[1]));
  return `${message} (line ${line} column ${column})`;
}
