// Answer extraction and comparison of the `accuracy` verifier (the rule; TRL's own
// accuracy_reward needs the Python math_verify package, which has no JavaScript twin):
//   gold:       an `answer` column (GSM8K keeps the final answer after "####"), else `solution`,
//               else `ground_truth`, each read with completionAnswer when it is free text
//   completion: the content of its last <answer>…</answer>, else of its last \boxed{…}, else its
//               last number (thousands separators removed)
//   equal:      as numbers when both parse, else as trimmed strings.

/** The content of the last <answer>…</answer>, the last \boxed{…} (braces balanced), or the last number. */
export function completionAnswer(text: string): string | null {
  const tags = [...text.matchAll(/<answer>([\s\S]*?)<\/answer>/g)];
  if (tags.length) return tags[tags.length - 1][1].trim();
  const boxed = lastBoxed(text);
  if (boxed !== null) return boxed.trim();
  return lastNumber(text);
}

function lastBoxed(text: string): string | null {
  const at = text.lastIndexOf('\\boxed{');
  if (at < 0) return null;
  let depth = 0;
  for (let i = at + '\\boxed'.length; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(at + '\\boxed{'.length, i);
  }
  return null; // unclosed: not an answer
}

/** Numbers as people write them: -1,234.5, 3.25, .5, 1e3 is not recognised (GSM8K never uses it). */
const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+/g;

export function lastNumber(text: string): string | null {
  const all = text.match(NUMBER);
  return all ? all[all.length - 1].replace(/,/g, '') : null;
}

/** A string as a number when all of it is one ("$1,000", "18.", " 7 " → 1000, 18, 7), else null. */
export function parseNumber(s: string): number | null {
  const t = s.trim().replace(/^\$/, '').replace(/\.$/, '').replace(/%$/, '');
  if (!/^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^-?\.\d+$/.test(t)) return null;
  const v = Number(t.replace(/,/g, ''));
  return Number.isFinite(v) ? v : null;
}

/** GSM8K's gold answer: the text after the last "####"; other answer columns as written. */
export function goldAnswer(row: Record<string, unknown>): string | null {
  for (const key of ['answer', 'solution', 'ground_truth']) {
    const v = row[key];
    if (v === undefined || v === null) continue;
    const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v : null;
    if (s === null) continue;
    const hash = s.lastIndexOf('####');
    if (hash >= 0) return s.slice(hash + 4).trim().replace(/,/g, '');
    // A worked solution (MATH style) carries its answer in \boxed{}; a bare answer is itself.
    return s.includes('\\boxed{') || s.includes('<answer>') ? completionAnswer(s) : s.trim();
  }
  return null;
}

export function answersEqual(pred: string, gold: string): boolean {
  const a = parseNumber(pred), b = parseNumber(gold);
  if (a !== null && b !== null) return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  return pred.trim() === gold.trim();
}
