// `--model PATH` recognised by content, not by name: a Hugging Face folder, a llama2.c checkpoint,
// or a file that belongs inside a folder (model.safetensors, config.json, tokenizer.json), which is
// answered with the folder to pass instead.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './args.ts';

export interface ModelPaths {
  model: string;
  tokenizer: string;
  format: 'hf' | 'llama2c';
}

function head(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** safetensors: u64 little-endian header length, then a JSON object. */
function isSafetensors(b: Buffer): boolean {
  return b.length >= 9 && b.readBigUInt64LE(0) < 100_000_000n && b[8] === 0x7b;
}

export function resolveModelPaths(model: string | undefined, tokenizer: string | undefined, flag = '--model'): ModelPaths {
  if (!model) throw new UsageError(`${flag} is required (a Hugging Face folder or a llama2.c .bin)`);
  if (!existsSync(model)) throw new UsageError(`${flag} ${model} does not exist (expected a Hugging Face folder or a llama2.c .bin)`);
  const st = statSync(model);
  let format: ModelPaths['format'];
  if (st.isDirectory()) {
    if (!existsSync(join(model, 'config.json'))) {
      throw new UsageError(`${flag} ${model} is a folder without config.json (expected a Hugging Face model folder: config.json, *.safetensors, tokenizer.json)`);
    }
    format = 'hf';
  } else {
    const b = head(model, 16);
    const name = basename(model);
    if (isSafetensors(b)) throw new UsageError(`${flag} ${model} is a safetensors file; pass the folder holding it and its config.json: ${flag} ${dirname(model)}`);
    if (b[0] === 0x7b || name.endsWith('.json')) throw new UsageError(`${flag} ${model} is a JSON file; pass the model folder that holds it: ${flag} ${dirname(model)}`);
    if (name.endsWith('.gguf') || b.subarray(0, 4).toString('latin1') === 'GGUF') throw new UsageError(`${flag} ${model} is a GGUF file, which is not read as a model; pass a Hugging Face folder or a llama2.c .bin`);
    // llama2.c: seven int32 header fields (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
    // seq_len); the first four are small positive numbers.
    const fields = b.length >= 16 ? [0, 4, 8, 12].map((o) => b.readInt32LE(o)) : [];
    if (fields.length < 4 || fields.some((x) => x <= 0 || x > 1 << 20)) {
      throw new UsageError(`${flag} ${model} is neither a Hugging Face folder nor a llama2.c checkpoint (its first bytes are not a llama2.c header)`);
    }
    format = 'llama2c';
  }
  const tok = tokenizer ?? (format === 'hf' ? model : join(dirname(model), 'tokenizer.bin'));
  if (!existsSync(tok)) throw new UsageError(`no tokenizer at ${tok}; pass --tokenizer PATH (tokenizer.json or a llama2.c tokenizer.bin)`);
  return { model, tokenizer: tok, format };
}
