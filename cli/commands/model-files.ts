// The model and tokenizer a command works on: --model (HF folder or llama2.c .bin) and --tokenizer
// (default: the folder's tokenizer.json, or tokenizer.bin beside a .bin), checked before loading.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Backend } from '../../engine/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import type { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import type { Tokenizer } from '../../llm/tokenizers/tokenizer.ts';
import { UsageError } from '../args.ts';

export function modelPaths(command: string, model: string | undefined, tokenizer: string | undefined): { model: string; tokenizer: string; isDir: boolean } {
  if (!model) throw new UsageError(`wgrad ${command}: --model is required`);
  if (!existsSync(model)) throw new UsageError(`wgrad ${command}: --model ${model} does not exist (expected a Hugging Face folder or a llama2.c .bin)`);
  const isDir = statSync(model).isDirectory();
  const tok = tokenizer ?? (isDir ? join(model, 'tokenizer.json') : join(dirname(model), 'tokenizer.bin'));
  if (!existsSync(tok)) throw new UsageError(`wgrad ${command}: no tokenizer at ${tok}; pass --tokenizer PATH`);
  return { model, tokenizer: tok, isDir };
}

export async function openModel(paths: { model: string; tokenizer: string }, backend: Backend): Promise<{ model: LlamaForCausalLM; tokenizer: Tokenizer }> {
  const tokenizer = await loadTokenizer(paths.tokenizer);
  const { model } = await loadLlama(paths.model, { backend });
  return { model, tokenizer };
}

/** "A-B" or "N" → [A, B] (inclusive block range). */
export function layerRange(command: string, flag: string, v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v.trim());
  if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) throw new UsageError(`wgrad ${command}: --${flag} expects a block range A-B (0-based, inclusive) or one block N, got "${v}"`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}
