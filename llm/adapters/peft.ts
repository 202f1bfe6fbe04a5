// Hugging Face PEFT's LoRA format: adapter_config.json (LoraConfig.to_dict()) and
// adapter_model.safetensors with keys base_model.model.<module path>.lora_A.weight [r, in] and
// .lora_B.weight [out, r] (get_peft_model_state_dict drops the adapter name, "default").
// Module selection follows PEFT's check_target_module_exists: a list of target_modules matches a
// module whose name equals an entry or ends with "." + entry; a string is a regex that must match
// the whole name ("all-linear": every Linear but the output layer); layers_to_transform keeps the
// modules of those model.layers.N; exclude_modules removes modules the same way.
// Options that change what the adapter computes beyond W + s·B·A (DoRA, biases, modules_to_save,
// rank patterns, ...) are refused by name rather than ignored.
import { writeSafetensors } from '../io/safetensors-writer.ts';
import type { TensorData } from '../io/tensor-data.ts';
import { Linear } from '../../engine/nn/layers.ts';
import type { Module } from '../../engine/nn/module.ts';
import { adapterLayout, type FileTensor, type LoRAAdapter, type ParsedAdapter } from './adapter.ts';
import { blockPath, LLAMA_BLOCK_LINEARS } from './layers.ts';

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
const KEY_PREFIX = 'base_model.model.';
/** PEFT's default targets for llama, mistral and qwen2 when target_modules is null. */
const DEFAULT_TARGETS = ['q_proj', 'v_proj'];

type Json = Record<string, unknown>;

/**
 * LoraConfig fields this loader reads, checks, or knows not to matter for an adapter over unchanged
 * base weights (init-only settings, bookkeeping). Any other field must be unset.
 */
const KNOWN_FIELDS = new Set([
  'alora_invocation_tokens', 'alpha_pattern', 'auto_mapping', 'base_model_name_or_path', 'bias', 'corda_config',
  'ensure_weight_tying', 'eva_config', 'exclude_modules', 'fan_in_fan_out', 'inference_mode', 'init_lora_weights',
  'layer_replication', 'layers_pattern', 'layers_to_transform', 'loftq_config', 'lora_alpha', 'lora_bias',
  'lora_dropout', 'megatron_config', 'megatron_core', 'modules_to_save', 'peft_type', 'peft_version',
  'qalora_group_size', 'r', 'rank_pattern', 'revision', 'runtime_config', 'target_modules', 'target_parameters',
  'task_type', 'trainable_token_indices', 'use_dora', 'use_qalora', 'use_rslora',
]);

export function peftKey(path: string, m: 'A' | 'B'): string {
  return `${KEY_PREFIX}${path}.lora_${m}.weight`;
}

/** Python-re-safe escape of a module path for a target_modules regex. */
function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * adapter_config.json as PEFT's LoraConfig.to_dict() writes it. Fields are the ones PEFT 0.10+ knows,
 * so older PEFT loads it too (newer versions fill in their later fields' defaults).
 */
export function peftConfig(a: LoRAAdapter, file = PEFT_CONFIG_FILE): Json {
  const { layers, names } = adapterLayout(a, file);
  const allLayers = a.numLayers !== undefined && layers.length === a.numLayers && layers.every((l, i) => l === i);
  // names × layers must be exactly the adapter's modules; otherwise name each module in a regex.
  const product = layers.flatMap((l) => names.map((n) => blockPath(l, LLAMA_BLOCK_LINEARS[n])));
  const isProduct = product.length === a.modules.size && product.every((p) => a.modules.has(p));
  const targetModules = isProduct
    ? names
    : `model\\.layers\\.(?:${[...a.modules.keys()].map((p) => escapeRegex(p.slice('model.layers.'.length))).join('|')})`;
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: a.baseModel ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: isProduct && !allLayers ? layers : null,
    loftq_config: {},
    lora_alpha: a.alpha,
    lora_dropout: a.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: a.r,
    rank_pattern: {},
    revision: null,
    target_modules: targetModules,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: a.rslora,
  };
}

export function writePeft(a: LoRAAdapter): { config: Json; weights: Uint8Array } {
  const config = peftConfig(a);
  const tensors = [...a.modules].flatMap(([path, { A, B }]) => [
    { name: peftKey(path, 'A'), shape: A.shape, data: A.data, dtype: a.dtype ?? 'F32' },
    { name: peftKey(path, 'B'), shape: B.shape, data: B.data, dtype: a.dtype ?? 'F32' },
  ]);
  return { config, weights: writeSafetensors(tensors, { metadata: { format: 'pt' }, fileName: PEFT_WEIGHTS_FILE }) };
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0)
    || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
}

interface PeftSelection {
  targets: string | string[];
  exclude: string | string[] | null;
  layers: number[] | null;
}

function fullMatch(pattern: string, s: string, file: string, field: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`);
  } catch (e) {
    throw new Error(`${file}: ${field} regex ${JSON.stringify(pattern)} is not supported here (${(e as Error).message})`);
  }
  return re.test(s);
}

function matches(spec: string | string[], path: string, file: string, field: string): boolean {
  if (typeof spec === 'string') return fullMatch(spec, path, file, field);
  return spec.some((t) => path === t || path.endsWith(`.${t}`));
}

/** The module paths PEFT would wrap in `model` for this selection. */
function selectPeft(model: Module, sel: PeftSelection, file: string): string[] {
  const all = model.namedModules().filter(([path]) => path !== '');
  let targets = sel.targets;
  if ((typeof targets === 'string' && targets.toLowerCase() === 'all-linear') || (Array.isArray(targets) && targets.length === 1 && targets[0] === 'all-linear')) {
    // PEFT expands all-linear to the short names of every Linear except the output layer.
    targets = [...new Set(all.filter(([p, m]) => m instanceof Linear && p !== 'lm_head').map(([p]) => p.slice(p.lastIndexOf('.') + 1)))];
  }
  const out: string[] = [];
  for (const [path, m] of all) {
    if (!matches(targets, path, file, 'target_modules')) continue;
    if (sel.exclude !== null && matches(sel.exclude, path, file, 'exclude_modules')) continue;
    if (sel.layers) {
      const l = /^model\.layers\.(\d+)\./.exec(path);
      if (!l || !sel.layers.includes(Number(l[1]))) continue;
    }
    if (!(m instanceof Linear)) throw new Error(`${file}: target_modules selects ${path} (${m.constructor.name}); LoRA is supported on Linear modules only`);
    if (path === 'lm_head') throw new Error(`${file}: target_modules selects lm_head; LoRA on the output layer is not supported`);
    out.push(path);
  }
  if (!out.length) throw new Error(`${file}: target_modules ${JSON.stringify(sel.targets)}${sel.layers ? ` with layers_to_transform [${sel.layers}]` : ''} matches no module of this model`);
  return out;
}

function fail(file: string, field: string, msg: string): never {
  throw new Error(`${file}: ${field}: ${msg}`);
}

/** Validates adapter_config.json and pairs the safetensors keys into modules. */
export function parsePeft(
  raw: unknown,
  weights: Map<string, TensorData>,
  files: { config: string; weights: string } = { config: PEFT_CONFIG_FILE, weights: PEFT_WEIGHTS_FILE },
): ParsedAdapter {
  const cf = files.config;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${cf}: must be a JSON object`);
  const c = raw as Json;
  if (c.peft_type !== 'LORA') fail(cf, 'peft_type', `${JSON.stringify(c.peft_type)} is not supported (only "LORA")`);
  if (c.task_type !== undefined && c.task_type !== null && c.task_type !== 'CAUSAL_LM') {
    fail(cf, 'task_type', `${JSON.stringify(c.task_type)} is not supported (only "CAUSAL_LM")`);
  }
  const r = c.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) fail(cf, 'r', `must be a positive integer, got ${JSON.stringify(r)}`);
  const alpha = c.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) fail(cf, 'lora_alpha', `must be a number, got ${JSON.stringify(alpha)}`);
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail(cf, 'lora_dropout', `must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  const rslora = c.use_rslora ?? false;
  if (typeof rslora !== 'boolean') fail(cf, 'use_rslora', `must be true or false, got ${JSON.stringify(rslora)}`);

  // Options that change the computation: refuse rather than load something that behaves differently.
  const bias = c.bias ?? 'none';
  if (bias !== 'none') fail(cf, 'bias', `${JSON.stringify(bias)} is not supported (only "none": trained biases are not loaded)`);
  if (c.use_dora) fail(cf, 'use_dora', 'DoRA adapters are not supported (only plain LoRA)');
  if (!isEmpty(c.modules_to_save)) fail(cf, 'modules_to_save', `${JSON.stringify(c.modules_to_save)}: fully trained modules are not supported`);
  if (c.fan_in_fan_out) fail(cf, 'fan_in_fan_out', 'true is for Conv1D (GPT-2) weights; Llama Linear weights are [out, in]');
  if (!isEmpty(c.rank_pattern)) fail(cf, 'rank_pattern', 'per-module ranks are not supported');
  if (!isEmpty(c.alpha_pattern)) fail(cf, 'alpha_pattern', 'per-module alphas are not supported');
  if (!isEmpty(c.layer_replication)) fail(cf, 'layer_replication', 'is not supported');
  if (c.lora_bias) fail(cf, 'lora_bias', 'a bias on lora_B is not supported');
  if (c.use_qalora) fail(cf, 'use_qalora', 'is not supported');
  if (!isEmpty(c.megatron_config)) fail(cf, 'megatron_config', 'is not supported');
  if (!isEmpty(c.trainable_token_indices)) fail(cf, 'trainable_token_indices', 'is not supported');
  if (!isEmpty(c.target_parameters)) fail(cf, 'target_parameters', 'is not supported (LoRA on Linear modules only)');
  if (!isEmpty(c.alora_invocation_tokens)) fail(cf, 'alora_invocation_tokens', 'activated LoRA is not supported');
  // PEFT keeps adding LoraConfig fields; one we do not know that is set may change the computation.
  for (const [k, v] of Object.entries(c)) {
    if (!KNOWN_FIELDS.has(k) && !isEmpty(v)) {
      fail(cf, k, `is set to ${JSON.stringify(v)}, an option this loader does not know; refusing rather than ignoring it`);
    }
  }
  const init = c.init_lora_weights ?? true;
  // PiSSA, OLoRA, LoftQ and CorDA change the base weights at init: the adapter only works with those.
  if (!(init === true || init === false || init === 'gaussian' || init === 'eva')) {
    fail(cf, 'init_lora_weights', `${JSON.stringify(init)} modifies the base model's weights; only adapters over unchanged base weights are supported`);
  }
  const lp = c.layers_pattern;
  if (!(lp === undefined || lp === null || lp === 'layers' || (Array.isArray(lp) && lp.length === 1 && lp[0] === 'layers'))) {
    fail(cf, 'layers_pattern', `${JSON.stringify(lp)} does not name Llama's decoder layers ("layers")`);
  }
  const stringList = (v: unknown, field: string): string | string[] | null => {
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    fail(cf, field, `must be a string, a list of strings or null, got ${JSON.stringify(v)}`);
  };
  const targets = stringList(c.target_modules, 'target_modules') ?? DEFAULT_TARGETS;
  const exclude = stringList(c.exclude_modules, 'exclude_modules');
  let layers: number[] | null = null;
  const lt = c.layers_to_transform;
  if (typeof lt === 'number') layers = [lt];
  else if (Array.isArray(lt) && lt.every((x) => Number.isInteger(x) && x >= 0)) layers = lt as number[];
  else if (lt !== undefined && lt !== null) fail(cf, 'layers_to_transform', `must be a layer index, a list of them or null, got ${JSON.stringify(lt)}`);
  if (layers && typeof targets === 'string' && targets.toLowerCase() !== 'all-linear') {
    fail(cf, 'layers_to_transform', 'cannot be combined with a regex target_modules (PEFT refuses this too)');
  }

  const wf = files.weights;
  const modules = new Map<string, { A: FileTensor; B: FileTensor }>();
  const unknown: string[] = [];
  const half = new Map<string, { A?: FileTensor; B?: FileTensor }>();
  for (const [key, td] of weights) {
    const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(key);
    if (!m) { unknown.push(key); continue; }
    if (td.dtype !== 'f32') throw new Error(`${wf}: ${key} has integer dtype ${td.sourceDtype ?? td.dtype}, expected floats`);
    const entry = half.get(m[1]) ?? {};
    entry[m[2] as 'A' | 'B'] = { key, shape: td.shape, data: td.data, sourceDtype: td.sourceDtype };
    half.set(m[1], entry);
  }
  if (unknown.length) {
    const k = unknown[0];
    const why = k.includes('lora_magnitude_vector') ? ' (DoRA magnitudes: DoRA is not supported)'
      : k.includes('lora_embedding_') ? ' (LoRA on embeddings is not supported)'
      : k.endsWith('.bias') ? ' (trained biases are not supported)'
      : !k.startsWith(KEY_PREFIX) ? ` (PEFT keys start with "${KEY_PREFIX}")` : '';
    throw new Error(`${wf}: unknown key(s) ${unknown.slice(0, 4).join(', ')}${unknown.length > 4 ? `, ... (${unknown.length} in all)` : ''}${why}`);
  }
  for (const [path, { A, B }] of half) {
    if (!A || !B) throw new Error(`${wf}: ${peftKey(path, A ? 'A' : 'B')} has no matching ${peftKey(path, A ? 'B' : 'A')}`);
    modules.set(path, { A, B });
  }
  if (layers) {
    const outside = [...modules.keys()].find((path) => { const l = /^model\.layers\.(\d+)\./.exec(path); return !l || !layers!.includes(Number(l[1])); });
    if (outside) throw new Error(`${wf}: ${peftKey(outside, 'A')} is outside layers_to_transform [${layers}] of ${cf}`);
  }
  // With name-based targets over every layer, the adapter covers the last layer: that gives the depth.
  let numLayers: number | undefined;
  if (!layers && (Array.isArray(targets) || targets.toLowerCase() === 'all-linear') && !exclude && modules.size) {
    const ls = [...modules.keys()].map((p) => /^model\.layers\.(\d+)\./.exec(p)).filter((x) => x !== null);
    if (ls.length === modules.size) numLayers = Math.max(...ls.map((x) => Number(x![1]))) + 1;
  }
  const sel: PeftSelection = { targets, exclude, layers };
  return {
    format: 'peft',
    file: wf,
    hyper: { r, alpha, rslora, dropout, scale: rslora ? alpha / Math.sqrt(r) : alpha / r },
    transposed: false,
    modules,
    select: (model) => selectPeft(model, sel, cf),
    numLayers,
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : undefined,
  };
}
