// Adapters and merged models on disk (Node/Deno): save, load (format detected), convert file to
// file, and export a Hugging Face folder. Formats: peft.ts and mlx.ts; atomic writes: llm/io/node-fs.ts.
import { readSafetensorsFile } from '../io/hf-weights.ts';
import { joinPath, makeDir, pathKind, readFileBytes, readTextFile, writeFileAtomic } from '../io/node-fs.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import type { LoRALinear } from '../../engine/nn/lora.ts';
import type { Module } from '../../engine/nn/module.ts';
import { adapterFromModel, loadIntoModel, toAdapter, type AdapterFormat, type LoRAAdapter, type ParsedAdapter } from './adapter.ts';
import { hfConfigFromBase, hfConfigJson, hfWeights, type ExportDtype } from './hf-export.ts';
import { countLayers } from './layers.ts';
import { MLX_WEIGHTS_FILE, parseMlx, writeMlx } from './mlx.ts';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, parsePeft, writePeft } from './peft.ts';

const CONFIG_FILE = PEFT_CONFIG_FILE; // both formats name it adapter_config.json

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

async function writeAdapterFiles(dir: string, format: AdapterFormat, a: LoRAAdapter): Promise<void> {
  const { config, weights } = format === 'peft' ? writePeft(a) : writeMlx(a);
  const other = format === 'peft' ? MLX_WEIGHTS_FILE : PEFT_WEIGHTS_FILE;
  if ((await pathKind(joinPath(dir, other))) !== null) {
    throw new Error(`adapter: ${dir} already holds ${other} (the other format); write into an empty folder`);
  }
  await makeDir(dir);
  // Weights first: a folder whose config exists is complete.
  await writeFileAtomic(dir, format === 'peft' ? PEFT_WEIGHTS_FILE : MLX_WEIGHTS_FILE, weights);
  await writeFileAtomic(dir, CONFIG_FILE, `${JSON.stringify(config, null, 2)}\n`);
}

function checkFormat(format: unknown): asserts format is AdapterFormat {
  if (format !== 'peft' && format !== 'mlx') throw new Error(`adapter format must be 'peft' or 'mlx', got ${JSON.stringify(format)}`);
}

export interface SaveAdapterOptions {
  format: AdapterFormat;
  /** Written as PEFT's base_model_name_or_path / mlx-lm's model. */
  baseModel?: string;
}

/** Writes the model's LoRA layers as a PEFT or mlx-lm adapter folder. */
export async function saveAdapter(model: Module, dir: string, opts: SaveAdapterOptions): Promise<void> {
  checkFormat(opts.format);
  const a = await adapterFromModel(model, { numLayers: countLayers(model), baseModel: opts.baseModel });
  await writeAdapterFiles(dir, opts.format, a);
}

/** Reads an adapter folder, telling PEFT (adapter_model.safetensors) from mlx-lm (adapters.safetensors). */
export async function readAdapterFolder(dir: string): Promise<ParsedAdapter> {
  const kind = await pathKind(dir);
  if (kind === null) throw new Error(`adapter: ${dir} does not exist`);
  if (kind !== 'directory') throw new Error(`adapter: ${dir} is not a folder (expected one holding ${CONFIG_FILE} and ${PEFT_WEIGHTS_FILE} or ${MLX_WEIGHTS_FILE})`);
  const cfgPath = joinPath(dir, CONFIG_FILE);
  if ((await pathKind(cfgPath)) !== 'file') throw new Error(`adapter: ${dir} has no ${CONFIG_FILE}`);
  const peftPath = joinPath(dir, PEFT_WEIGHTS_FILE);
  const mlxPath = joinPath(dir, MLX_WEIGHTS_FILE);
  const hasPeft = (await pathKind(peftPath)) === 'file';
  const hasMlx = (await pathKind(mlxPath)) === 'file';
  if (hasPeft && hasMlx) throw new Error(`adapter: ${dir} holds both ${PEFT_WEIGHTS_FILE} (PEFT) and ${MLX_WEIGHTS_FILE} (mlx-lm); keep one`);
  if (!hasPeft && !hasMlx) {
    if ((await pathKind(joinPath(dir, 'adapter_model.bin'))) === 'file') {
      throw new Error(`adapter: ${dir} has adapter_model.bin (a PyTorch pickle), which is not read; save the adapter with safe_serialization=True (adapter_model.safetensors)`);
    }
    throw new Error(`adapter: ${dir} has neither ${PEFT_WEIGHTS_FILE} (PEFT) nor ${MLX_WEIGHTS_FILE} (mlx-lm)`);
  }
  const config = await readJson(cfgPath);
  const path = hasPeft ? peftPath : mlxPath;
  const { tensors } = await readSafetensorsFile(path);
  const files = { config: cfgPath, weights: path };
  return hasPeft ? parsePeft(config, tensors, files) : parseMlx(config, tensors, files);
}

export interface LoadAdapterOptions {
  /** Make A and B trainable and turn LoRA dropout on (to continue training); default inference mode. */
  trainable?: boolean;
}

/** Wraps the modules the adapter targets in LoRA layers and loads its weights; returns them by path. */
export async function loadAdapter(model: Module, dir: string, opts: LoadAdapterOptions = {}): Promise<{ format: AdapterFormat; layers: Map<string, LoRALinear> }> {
  const parsed = await readAdapterFolder(dir);
  return { format: parsed.format, layers: loadIntoModel(model, parsed, opts) };
}

export interface ConvertAdapterOptions {
  /**
   * The base model's num_hidden_layers. Needed to write mlx-lm's num_layers (which counts from the
   * last layer) from a PEFT adapter over some layers only, unless its base_model_name_or_path is a
   * local folder with a config.json.
   */
  numLayers?: number;
}

async function baseLayerCount(baseModel: string | undefined): Promise<number | undefined> {
  if (!baseModel || (await pathKind(baseModel)) !== 'directory') return undefined;
  const cfg = joinPath(baseModel, 'config.json');
  if ((await pathKind(cfg)) !== 'file') return undefined;
  const n = ((await readJson(cfg)) as Record<string, unknown>).num_hidden_layers;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
}

/** Rewrites an adapter folder in the other format (or the same one, normalised); no model needed. */
export async function convertAdapter(src: string, dst: string, format: AdapterFormat, opts: ConvertAdapterOptions = {}): Promise<void> {
  checkFormat(format);
  const a = toAdapter(await readAdapterFolder(src));
  const known = opts.numLayers ?? a.numLayers ?? (await baseLayerCount(a.baseModel));
  if (opts.numLayers !== undefined && a.numLayers !== undefined && opts.numLayers !== a.numLayers) {
    throw new Error(`convertAdapter: ${src} is an adapter for a ${a.numLayers}-layer model, but numLayers is ${opts.numLayers}`);
  }
  const maxLayer = Math.max(...[...a.modules.keys()].map((p) => Number(/^model\.layers\.(\d+)\./.exec(p)?.[1] ?? -1)));
  if (known !== undefined && maxLayer >= known) throw new Error(`convertAdapter: ${src} adapts layer ${maxLayer}, but the model has ${known} layers`);
  await writeAdapterFiles(dst, format, { ...a, numLayers: known });
}

/** Tokenizer and generation files transformers' save_pretrained writes beside a model. */
export const TOKENIZER_FILES = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model',
  'vocab.json', 'merges.txt', 'added_tokens.json', 'chat_template.jinja', 'chat_template.json',
  'generation_config.json',
];

export interface ExportHfOptions {
  /** A Hugging Face folder (usually the base model's) whose tokenizer files are copied. */
  tokenizerFrom?: string;
  /**
   * config.json to start from (checked against the model, dtype updated), so fields the engine does
   * not model survive. Default: tokenizerFrom's config.json when it has one; false: build a fresh one.
   */
  configFrom?: string | false;
  /** Storage dtype of model.safetensors; default F32. */
  dtype?: ExportDtype;
}

/** Writes config.json, model.safetensors and the tokenizer files: a folder loadLlama and transformers read. */
export async function exportHfFolder(model: LlamaForCausalLM, dir: string, opts: ExportHfOptions = {}): Promise<{ files: string[] }> {
  const dtype = opts.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`exportHfFolder: dtype must be F32, F16 or BF16, got ${JSON.stringify(dtype)}`);
  if (opts.tokenizerFrom !== undefined && (await pathKind(opts.tokenizerFrom)) !== 'directory') {
    throw new Error(`exportHfFolder: tokenizerFrom ${opts.tokenizerFrom} is not a folder`);
  }
  let configPath: string | undefined;
  if (typeof opts.configFrom === 'string') {
    configPath = (await pathKind(opts.configFrom)) === 'directory' ? joinPath(opts.configFrom, 'config.json') : opts.configFrom;
    if ((await pathKind(configPath)) !== 'file') throw new Error(`exportHfFolder: configFrom ${configPath} does not exist`);
  } else if (opts.configFrom === undefined && opts.tokenizerFrom !== undefined) {
    const p = joinPath(opts.tokenizerFrom, 'config.json');
    if ((await pathKind(p)) === 'file') configPath = p;
  }
  const config = configPath
    ? hfConfigFromBase((await readJson(configPath)) as Record<string, unknown>, model.config, dtype, configPath)
    : hfConfigJson(model.config, dtype);
  const weights = await hfWeights(model, dtype);
  const copies: [string, Uint8Array][] = [];
  if (opts.tokenizerFrom !== undefined) {
    for (const name of TOKENIZER_FILES) {
      const p = joinPath(opts.tokenizerFrom, name);
      if ((await pathKind(p)) === 'file') copies.push([name, await readFileBytes(p)]);
    }
    if (!copies.some(([n]) => n.startsWith('tokenizer'))) {
      throw new Error(`exportHfFolder: tokenizerFrom ${opts.tokenizerFrom} has no tokenizer files (${TOKENIZER_FILES.slice(0, 4).join(', ')}, ...)`);
    }
  }
  if ((await pathKind(joinPath(dir, 'model.safetensors.index.json'))) !== null) {
    throw new Error(`exportHfFolder: ${dir} holds model.safetensors.index.json (a sharded checkpoint), which loaders would read instead; export into an empty folder`);
  }
  await makeDir(dir);
  await writeFileAtomic(dir, 'model.safetensors', weights);
  for (const [name, bytes] of copies) await writeFileAtomic(dir, name, bytes);
  // config.json last: loaders look for it first, so its presence means the folder is complete.
  await writeFileAtomic(dir, 'config.json', `${JSON.stringify(config, null, 2)}\n`);
  return { files: ['model.safetensors', ...copies.map(([n]) => n), 'config.json'] };
}
