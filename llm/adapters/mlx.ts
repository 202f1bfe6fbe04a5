// mlx-lm's LoRA format (mlx_lm/tuner): adapter_config.json with fine_tune_type "lora", num_layers
// and lora_parameters {rank, scale, dropout, keys?}, and adapters.safetensors with the trainable
// parameters by path: model.layers.N.self_attn.q_proj.lora_a [in, r] and .lora_b [r, out]
// (mlx-lm computes (x·lora_a)·lora_b, so lora_a = Aᵀ and lora_b = Bᵀ in PEFT's terms).
// Which modules: linear_to_lora_layers wraps, in each of the LAST num_layers blocks
// (model.layers[-max(num_layers, 0):], so 0 or -1 mean every block), the sub-modules named by
// `keys` relative to the block ("self_attn.q_proj"); without keys, Llama-family models get
// self_attn.q_proj and self_attn.v_proj. `scale` is the multiplier itself (PEFT's alpha/r).
import { writeSafetensors } from '../io/safetensors-writer.ts';
import type { TensorData } from '../io/tensor-data.ts';
import type { Module } from '../../engine/nn/module.ts';
import { adapterLayout, transpose2d, type FileTensor, type LoRAAdapter, type ParsedAdapter } from './adapter.ts';
import { blockPath, countLayers, LLAMA_BLOCK_LINEARS, splitBlockPath } from './layers.ts';

export const MLX_CONFIG_FILE = 'adapter_config.json';
export const MLX_WEIGHTS_FILE = 'adapters.safetensors';
const DEFAULT_KEYS = ['self_attn.q_proj', 'self_attn.v_proj'];
const BLOCK_KEYS = Object.values(LLAMA_BLOCK_LINEARS);

type Json = Record<string, unknown>;

export function mlxKey(path: string, m: 'a' | 'b'): string {
  return `${path}.lora_${m}`;
}

/** adapter_config.json for mlx-lm's load_adapters; throws when the layers are not the model's last ones. */
export function mlxConfig(a: LoRAAdapter, file = MLX_CONFIG_FILE): Json {
  const { layers, keys } = adapterLayout(a, file);
  const L = a.numLayers;
  const range = `${layers[0]}..${layers[layers.length - 1]}`;
  if (!layers.every((l, i) => l === layers[0] + i)) {
    throw new Error(`${file}: the adapter covers layers [${layers}], which are not contiguous; mlx-lm's num_layers can only name the last N layers`);
  }
  if (L === undefined) {
    throw new Error(`${file}: cannot tell whether layers ${range} are the model's last layers (mlx-lm's num_layers counts from the end); pass numLayers, the base model's num_hidden_layers`);
  }
  if (layers[layers.length - 1] !== L - 1) {
    throw new Error(`${file}: the adapter covers layers ${range} of a ${L}-layer model; mlx-lm's num_layers can only name the last N layers (${L - layers.length}..${L - 1} for N=${layers.length})`);
  }
  const missing = layers.flatMap((l) => keys.map((k) => blockPath(l, k))).filter((p) => !a.modules.has(p));
  if (missing.length) {
    throw new Error(`${file}: mlx-lm wraps the same modules (keys) in every adapted layer, but this adapter has no ${missing[0]}`);
  }
  const config: Json = {
    fine_tune_type: 'lora',
    num_layers: layers.length,
    lora_parameters: { rank: a.r, scale: a.scale, dropout: a.dropout, keys },
  };
  if (a.baseModel !== undefined) config.model = a.baseModel;
  return config;
}

export function writeMlx(a: LoRAAdapter): { config: Json; weights: Uint8Array } {
  const config = mlxConfig(a);
  const tensors = [...a.modules].flatMap(([path, { A, B }]) => {
    const at = transpose2d(A), bt = transpose2d(B);
    return [
      { name: mlxKey(path, 'a'), shape: at.shape, data: at.data, dtype: a.dtype ?? 'F32' },
      { name: mlxKey(path, 'b'), shape: bt.shape, data: bt.data, dtype: a.dtype ?? 'F32' },
    ];
  });
  return { config, weights: writeSafetensors(tensors, { metadata: { format: 'mlx' }, fileName: MLX_WEIGHTS_FILE }) };
}

function fail(file: string, field: string, msg: string): never {
  throw new Error(`${file}: ${field}: ${msg}`);
}

/** The blocks linear_to_lora_layers adapts: model.layers[-max(n, 0):]. */
function lastLayers(n: number, L: number): number[] {
  const first = n <= 0 ? 0 : Math.max(0, L - n);
  return Array.from({ length: L - first }, (_, i) => first + i);
}

export function parseMlx(
  raw: unknown,
  weights: Map<string, TensorData>,
  files: { config: string; weights: string } = { config: MLX_CONFIG_FILE, weights: MLX_WEIGHTS_FILE },
): ParsedAdapter {
  const cf = files.config;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${cf}: must be a JSON object`);
  const c = raw as Json;
  const type = c.fine_tune_type ?? 'lora';
  if (type === 'dora' || c.use_dora === true) fail(cf, 'fine_tune_type', 'DoRA adapters are not supported (only plain LoRA)');
  if (type === 'full') fail(cf, 'fine_tune_type', '"full" holds fine-tuned layers, not a LoRA adapter');
  if (type !== 'lora') fail(cf, 'fine_tune_type', `${JSON.stringify(type)} is not supported (only "lora")`);
  // Older mlx-lm releases called num_layers lora_layers.
  const n = c.num_layers ?? c.lora_layers;
  if (typeof n !== 'number' || !Number.isInteger(n)) fail(cf, 'num_layers', `must be an integer, got ${JSON.stringify(n)}`);
  const lp = c.lora_parameters;
  if (typeof lp !== 'object' || lp === null || Array.isArray(lp)) fail(cf, 'lora_parameters', 'must be an object {rank, scale, dropout, keys?}');
  const p = lp as Json;
  const r = p.rank;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) fail(cf, 'lora_parameters.rank', `must be a positive integer, got ${JSON.stringify(r)}`);
  const scale = p.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) fail(cf, 'lora_parameters.scale', `must be a number, got ${JSON.stringify(scale)}`);
  const dropout = p.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail(cf, 'lora_parameters.dropout', `must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  let keys = DEFAULT_KEYS;
  if (p.keys !== undefined && p.keys !== null) {
    if (!Array.isArray(p.keys) || !p.keys.every((k) => typeof k === 'string')) fail(cf, 'lora_parameters.keys', `must be a list of module names, got ${JSON.stringify(p.keys)}`);
    const bad = (p.keys as string[]).filter((k) => !BLOCK_KEYS.includes(k));
    if (bad.length) fail(cf, 'lora_parameters.keys', `${bad.map((k) => JSON.stringify(k)).join(', ')} not supported (LoRA on a Llama block's Linear modules: ${BLOCK_KEYS.join(', ')})`);
    keys = p.keys as string[];
  }

  const wf = files.weights;
  const half = new Map<string, { A?: FileTensor; B?: FileTensor }>();
  const unknown: string[] = [];
  for (const [key, td] of weights) {
    const m = /^(.+)\.lora_([ab])$/.exec(key);
    if (!m || !splitBlockPath(m[1])) { unknown.push(key); continue; }
    if (td.dtype !== 'f32') throw new Error(`${wf}: ${key} has integer dtype ${td.sourceDtype ?? td.dtype}, expected floats`);
    const entry = half.get(m[1]) ?? {};
    entry[m[2] === 'a' ? 'A' : 'B'] = { key, shape: td.shape, data: td.data, sourceDtype: td.sourceDtype };
    half.set(m[1], entry);
  }
  if (unknown.length) {
    const why = unknown[0].endsWith('.m') ? ' (DoRA magnitudes: DoRA is not supported)' : '';
    throw new Error(`${wf}: unknown key(s) ${unknown.slice(0, 4).join(', ')}${unknown.length > 4 ? `, ... (${unknown.length} in all)` : ''}${why}`);
  }
  const modules = new Map<string, { A: FileTensor; B: FileTensor }>();
  for (const [path, { A, B }] of half) {
    if (!A || !B) throw new Error(`${wf}: ${mlxKey(path, A ? 'a' : 'b')} has no matching ${mlxKey(path, A ? 'b' : 'a')}`);
    modules.set(path, { A, B });
  }
  // The adapted blocks are the last ones, so the highest one present is the model's last layer.
  const present = [...modules.keys()].map((path) => splitBlockPath(path)!.layer);
  const numLayers = present.length ? Math.max(...present) + 1 : undefined;
  if (numLayers !== undefined) {
    const expected = lastLayers(n, numLayers).flatMap((l) => keys.map((k) => blockPath(l, k)));
    const miss = expected.filter((path) => !modules.has(path));
    const extra = [...modules.keys()].filter((path) => !expected.includes(path));
    if (miss.length || extra.length) {
      throw new Error(`${wf}: does not match num_layers=${n} and keys [${keys}] of ${cf}: ${miss.length ? `no ${mlxKey(miss[0], 'a')}` : `unexpected ${mlxKey(extra[0], 'a')}`}`);
    }
  }
  return {
    format: 'mlx',
    file: wf,
    hyper: { r, alpha: scale * r, rslora: false, dropout, scale },
    transposed: true,
    modules,
    select: (model: Module) => lastLayers(n, countLayers(model)).flatMap((l) => keys.map((k) => blockPath(l, k))),
    numLayers,
    baseModel: typeof c.model === 'string' ? c.model : undefined,
  };
}
