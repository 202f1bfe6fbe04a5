// Instruction files for abliteration and contrast-pair files for steering, and how a tokenizer turns
// them into token ids (the chat template when the tokenizer has one, as Arditi et al. and CAA do).
import { DataError } from '../data/errors.ts';
import { readDataFile } from '../data/files.ts';
import { dataFileFormat } from '../data/read.ts';
import { readTextFile } from '../io/node-fs.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';

const INSTRUCTION_FIELDS = ['instruction', 'prompt', 'goal', 'question', 'text'];

/**
 * Instructions from a text file (one per non-empty line) or a JSON/JSONL/CSV/Parquet file whose rows
 * are strings or objects with one of: instruction (refusal_direction splits), prompt, goal (AdvBench),
 * question, text.
 */
export async function readInstructions(path: string): Promise<string[]> {
  if (!dataFileFormat(path)) {
    let text: string;
    try { text = await readTextFile(path); } catch (e) { throw new Error(`${path}: cannot read (${(e as Error).message})`); }
    return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  }
  const rows = await readDataFile(path);
  const out = rows.map((r) => {
    if (r.parseError) throw new DataError(r, r.parseError);
    if (typeof r.value === 'string') return r.value;
    const obj = r.value as Record<string, unknown> | null;
    const key = obj && typeof obj === 'object' ? INSTRUCTION_FIELDS.find((k) => typeof obj[k] === 'string') : undefined;
    if (!key) throw new DataError(r, `expected a string or an object with a string field ${INSTRUCTION_FIELDS.join('/')}, got ${JSON.stringify(r.value)?.slice(0, 80)}`);
    return obj![key] as string;
  });
  if (!out.length) throw new Error(`${path}: no instructions`);
  return out;
}

/** Token ids of an instruction as the model sees it: the chat template's user turn and assistant header, else the text. */
export function encodeInstruction(tok: Tokenizer, instruction: string): number[] {
  return tok.chatTemplate ? tok.encodeChat([{ role: 'user', content: instruction }], { addGenerationPrompt: true }) : tok.encode(instruction);
}

/**
 * Offsets of the post-instruction template tokens (Arditi et al.'s eoi_toks: what the template puts
 * between the instruction and the answer), −n..−1; [−1] without a template.
 */
export function postInstructionOffsets(tok: Tokenizer): number[] {
  if (!tok.chatTemplate) return [-1];
  const marker = 'WGRADINSTRUCTIONMARKER';
  const text = tok.applyChatTemplate([{ role: 'user', content: marker }], { addGenerationPrompt: true });
  const at = text.lastIndexOf(marker);
  if (at < 0) return [-1];
  const n = Math.max(1, tok.encode(text.slice(at + marker.length), { addBos: false }).length);
  return Array.from({ length: n }, (_, i) => i - n);
}

export type PairFormat = 'repeng' | 'caa';

/** {"positive","negative"} rows (repeng's DatasetEntry) or CAA A/B rows (question + answer_matching_behavior / answer_not_matching_behavior). */
export async function readContrastPairs(path: string): Promise<{ format: PairFormat; pairs: { positive: string; negative: string; question?: string }[] }> {
  const rows = await readDataFile(path);
  let format: PairFormat | null = null;
  const pairs = rows.map((r) => {
    if (r.parseError) throw new DataError(r, r.parseError);
    const o = r.value as Record<string, unknown>;
    const isRepeng = o && typeof o.positive === 'string' && typeof o.negative === 'string';
    const isCaa = o && typeof o.question === 'string' && typeof o.answer_matching_behavior === 'string' && typeof o.answer_not_matching_behavior === 'string';
    const here: PairFormat | null = isRepeng ? 'repeng' : isCaa ? 'caa' : null;
    if (!here) throw new DataError(r, 'expected {"positive", "negative"} (repeng) or {"question", "answer_matching_behavior", "answer_not_matching_behavior"} (CAA) strings');
    if (format && here !== format) throw new DataError(r, `a ${here} row in a file whose first row is ${format}`);
    format = here;
    return here === 'repeng'
      ? { positive: o.positive as string, negative: o.negative as string }
      : { question: o.question as string, positive: o.answer_matching_behavior as string, negative: o.answer_not_matching_behavior as string };
  });
  if (!format) throw new Error(`${path}: no pairs`);
  return { format, pairs };
}

/**
 * A CAA A/B prompt with its answer: the chat template's user turn + assistant header + answer, else
 * CAA's base-model format "Input: q\nResponse: a" (utils/tokenize.py). The vector is read at offset
 * −2, the answer letter of "(A)".
 */
export function encodeCaa(tok: Tokenizer, question: string, answer: string): number[] {
  if (tok.chatTemplate) {
    const prompt = tok.applyChatTemplate([{ role: 'user', content: question.trim() }], { addGenerationPrompt: true });
    return tok.encode(`${prompt}${answer.trim()}`, { addBos: false });
  }
  return tok.encode(`Input: ${question.trim()}\nResponse: ${answer.trim()}`);
}
