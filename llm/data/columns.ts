// Column mapping shared by the SFT and preference datasets: read our field names from the columns a
// file uses (e.g. { prompt: 'question' }), and name the file's column in errors about such a field.

/** The row with mapped columns under the names the formats read. */
export function renameColumns<F extends string>(value: unknown, columns: Partial<Record<F, string>>): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const row = value as Record<string, unknown>;
  const out: Record<string, unknown> = { ...row };
  for (const theirs of Object.values(columns)) delete out[theirs as string];
  for (const [ours, theirs] of Object.entries(columns)) if ((theirs as string) in row) out[ours] = row[theirs as string];
  return out;
}

/** An error about a mapped field (e.g. "chosen[0].role") names the column as it is in the file. */
export function fileField<F extends string>(field: string | undefined, columns: Partial<Record<F, string>> | undefined): string | undefined {
  if (field === undefined || !columns) return field;
  const root = /^[a-z_]+/.exec(field)?.[0] as F | undefined;
  const theirs = root === undefined ? undefined : columns[root];
  return theirs === undefined ? field : theirs + field.slice(root!.length);
}
