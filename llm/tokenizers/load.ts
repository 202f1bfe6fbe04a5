// loadTokenizer(path): picks the tokenizer by file (Node/Deno; in a browser build the tokenizer from
// bytes/JSON with Llama2cTokenizer.fromBytes or new HfTokenizer(...)).
//   folder          -> tokenizer.json (+ tokenizer_config.json, chat_template.jinja, generation_config.json),
//                      else tokenizer.bin
//   *.json          -> Hugging Face tokenizer.json, with the sibling files above when present
//   *.bin           -> llama2.c tokenizer.bin
//   *.model         -> refused: sentencepiece protobufs are not read; use tokenizer.json or tokenizer.bin
import { FormatError } from '../io/format-error.ts';
import { baseName, dirName, joinPath, pathKind, readFileBytes, readTextFile } from '../io/node-fs.ts';
import { HfTokenizer } from './hf.ts';
import { Llama2cTokenizer } from './llama2c.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface LoadTokenizerOptions {
  /** Expected vocabulary size (llama2.c: the checkpoint's vocab_size). */
  vocabSize?: number;
  /** A chat template overriding the one found with the tokenizer. */
  chatTemplate?: string;
  chatTemplateName?: string;
}

async function readJson(path: string): Promise<unknown> {
  const text = await readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(path, `not valid JSON (${(e as Error).message})`);
  }
}

async function optionalJson(path: string): Promise<unknown> {
  return (await pathKind(path)) === 'file' ? readJson(path) : null;
}

/** generation_config.json's eos_token_id: a number or a list of numbers. */
function eosIds(generationConfig: unknown): number[] {
  const v = (generationConfig as { eos_token_id?: unknown } | null)?.eos_token_id;
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

async function loadHf(jsonPath: string, options: LoadTokenizerOptions): Promise<HfTokenizer> {
  const dir = dirName(jsonPath);
  const [json, config, generation] = await Promise.all([
    readJson(jsonPath),
    optionalJson(joinPath(dir, 'tokenizer_config.json')),
    optionalJson(joinPath(dir, 'generation_config.json')),
  ]);
  const jinjaPath = joinPath(dir, 'chat_template.jinja');
  const chatTemplate = options.chatTemplate ?? ((await pathKind(jinjaPath)) === 'file' ? await readTextFile(jinjaPath) : undefined);
  const tok = new HfTokenizer(json, config, {
    source: jsonPath,
    chatTemplate,
    chatTemplateName: options.chatTemplateName,
    extraStopIds: eosIds(generation),
  });
  if (options.vocabSize !== undefined && tok.vocabSize > options.vocabSize) {
    throw new FormatError(jsonPath, `has ids up to ${tok.vocabSize - 1} but the model's vocab_size is ${options.vocabSize}`);
  }
  return tok;
}

async function loadLlama2c(path: string, options: LoadTokenizerOptions): Promise<Llama2cTokenizer> {
  return Llama2cTokenizer.fromBytes(await readFileBytes(path), {
    source: path,
    vocabSize: options.vocabSize,
    chatTemplate: options.chatTemplate,
  });
}

export async function loadTokenizer(path: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const kind = await pathKind(path);
  if (kind === 'directory') {
    const json = joinPath(path, 'tokenizer.json');
    if ((await pathKind(json)) === 'file') return loadHf(json, options);
    const bin = joinPath(path, 'tokenizer.bin');
    if ((await pathKind(bin)) === 'file') return loadLlama2c(bin, options);
    throw new FormatError(path, 'folder has neither tokenizer.json (Hugging Face) nor tokenizer.bin (llama2.c)');
  }
  if (kind !== 'file') throw new FormatError(path, 'no such file or folder');
  const name = baseName(path).toLowerCase();
  if (name.endsWith('.json')) return loadHf(path, options);
  if (name.endsWith('.bin')) return loadLlama2c(path, options);
  if (name.endsWith('.model')) {
    throw new FormatError(path, 'sentencepiece .model files are not read; use the tokenizer.json (Hugging Face) or tokenizer.bin (llama2.c tokenizer.py export) made from it');
  }
  throw new FormatError(path, 'unknown tokenizer file: expected tokenizer.json, a llama2.c .bin, or a folder holding one');
}
