// A LoRA adapter as host data, independent of file format: the hyperparameters and, per module
// path, A [r, in] and B [out, r] (PEFT's orientation). Format readers produce a ParsedAdapter
// (tensors as the file stores them, plus the rule that picks which modules a model wraps);
// writers take a LoRAAdapter. Browser-safe: no file system here.
import type { Backend } from '../../engine/index.ts';
import { tensor } from '../../engine/ops/index.ts';
import { tidy } from '../../engine/memory.ts';
import type { Module } from '../../engine/nn/module.ts';
import { loraScale } from '../../engine/nn/lora.ts';
import type { LoRALinear } from '../../engine/nn/lora.ts';
import { LLAMA_BLOCK_LINEARS, loraLayers, splitBlockPath, wrapLinears } from './layers.ts';

export type AdapterFormat = 'peft' | 'mlx';
export type StorageDtype = 'F32' | 'F16' | 'BF16';

export interface LoRAHyper {
  r: number;
  /** PEFT's lora_alpha. */
  alpha: number;
  rslora: boolean;
  /** The multiplier on B·A·x: alpha/r, alpha/√r (rsLoRA), or mlx-lm's `scale` as written. */
  scale: number;
  dropout: number;
}

export interface LoRAAdapter extends LoRAHyper {
  /** Module path (model.layers.0.self_attn.q_proj) → A [r, in], B [out, r] as row-major f32. */
  modules: Map<string, { A: HostMatrix; B: HostMatrix }>;
  /** The base model's number of decoder layers, where known (mlx-lm's num_layers counts from the end). */
  numLayers?: number;
  baseModel?: string;
  /** How the weights are stored; a conversion keeps the source file's dtype. Default F32. */
  dtype?: StorageDtype;
}

export interface HostMatrix { shape: [number, number]; data: Float32Array }

/** One tensor as a file stores it. */
export interface FileTensor { key: string; shape: number[]; data: Float32Array; sourceDtype?: string }

export interface ParsedAdapter {
  format: AdapterFormat;
  /** The weights file, for messages. */
  file: string;
  hyper: LoRAHyper;
  /** mlx-lm stores lora_a = Aᵀ [in, r] and lora_b = Bᵀ [r, out]. */
  transposed: boolean;
  modules: Map<string, { A: FileTensor; B: FileTensor }>;
  /** The module paths this adapter's config wraps in a given model (throws for what it cannot). */
  select(model: Module): string[];
  numLayers?: number;
  baseModel?: string;
}

export function transpose2d(m: HostMatrix): HostMatrix {
  const [rows, cols] = m.shape;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m.data[i * cols + j];
  return { shape: [cols, rows], data: out };
}

function shapeText(s: readonly number[]): string { return `[${s.join(', ')}]`; }

/** Common storage dtype of the tensors, when they share one of F32/F16/BF16. */
function commonDtype(ts: FileTensor[]): StorageDtype {
  const set = new Set(ts.map((t) => (t.sourceDtype ?? 'F32').toUpperCase()));
  if (set.size === 1) {
    const [d] = set;
    if (d === 'F16' || d === 'BF16') return d;
  }
  return 'F32';
}

/** Checks that every module has A and B of rank r with matching in/out, then orients them as PEFT does. */
export function toAdapter(p: ParsedAdapter): LoRAAdapter {
  const { r } = p.hyper;
  const modules = new Map<string, { A: HostMatrix; B: HostMatrix }>();
  for (const [path, { A, B }] of p.modules) {
    for (const t of [A, B]) {
      if (t.shape.length !== 2) throw new Error(`${p.file}: ${t.key} has shape ${shapeText(t.shape)}, expected a matrix`);
    }
    const a = { shape: A.shape as [number, number], data: A.data };
    const b = { shape: B.shape as [number, number], data: B.data };
    const At = p.transposed ? transpose2d(a) : a;
    const Bt = p.transposed ? transpose2d(b) : b;
    if (At.shape[0] !== r || Bt.shape[1] !== r) {
      const want = p.transposed ? `[in, ${r}] and [${r}, out]` : `[${r}, in] and [out, ${r}]`;
      throw new Error(`${p.file}: ${A.key} ${shapeText(A.shape)} and ${B.key} ${shapeText(B.shape)} do not have rank ${r} from the config (expected ${want})`);
    }
    modules.set(path, { A: At, B: Bt });
  }
  if (!modules.size) throw new Error(`${p.file}: holds no LoRA weights`);
  const all = [...p.modules.values()].flatMap(({ A, B }) => [A, B]);
  return { ...p.hyper, modules, numLayers: p.numLayers, baseModel: p.baseModel, dtype: commonDtype(all) };
}

export interface LoadIntoOptions {
  /** Make A and B trainable and turn dropout on (continued training); default inference mode. */
  trainable?: boolean;
}

/**
 * Wraps the modules the adapter's config selects in `model` and loads A and B into them. Keys that
 * select nothing, selected modules with no weights, and shape mismatches are errors.
 */
export function loadIntoModel(model: Module, p: ParsedAdapter, opts: LoadIntoOptions = {}): Map<string, LoRALinear> {
  const existing = loraLayers(model);
  if (existing.size) {
    throw new Error(`${p.file}: the model already has LoRA layers (${[...existing.keys()][0]}, ...); load an adapter into a plain base model, or merge the current one first (mergeLoRA)`);
  }
  const paths = p.select(model);
  const selected = new Set(paths);
  const unknown = [...p.modules.entries()].filter(([path]) => !selected.has(path)).flatMap(([, { A, B }]) => [A.key, B.key]);
  if (unknown.length) {
    throw new Error(`${p.file}: unknown key(s) ${unknown.slice(0, 4).join(', ')}${unknown.length > 4 ? `, ... (${unknown.length} in all)` : ''}: not a module the adapter config targets in this model`);
  }
  const missing = paths.filter((path) => !p.modules.has(path));
  if (missing.length) {
    throw new Error(`${p.file}: no weights for ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? `, ... (${missing.length} in all)` : ''}, which the adapter config targets`);
  }
  const { r } = p.hyper;
  // Check every shape against the model before changing it.
  const modules = new Map(model.namedModules());
  for (const path of paths) {
    const base = modules.get(path) as unknown as { inFeatures?: number; outFeatures?: number } | undefined;
    const { A, B } = p.modules.get(path)!;
    const inF = base?.inFeatures ?? -1, outF = base?.outFeatures ?? -1;
    const wantA = p.transposed ? [inF, r] : [r, inF];
    const wantB = p.transposed ? [r, outF] : [outF, r];
    for (const [t, want] of [[A, wantA], [B, wantB]] as const) {
      if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
        throw new Error(`${p.file}: ${t.key} has shape ${shapeText(t.shape)}, the model expects ${shapeText(want)}`);
      }
    }
  }
  const adapter = toAdapter(p);
  const wrapped = wrapLinears(model, paths, { ...p.hyper, trainable: opts.trainable }, p.file);
  tidy(() => {
    for (const [path, lora] of wrapped) {
      const { A, B } = adapter.modules.get(path)!;
      const backend: Backend = lora.lora_A.backend;
      lora.lora_A.assign(tensor(A.data, A.shape, { backend }));
      lora.lora_B.assign(tensor(B.data, B.shape, { backend }));
    }
  });
  return wrapped;
}

function sameHyper(a: LoRAHyper, b: LoRAHyper): boolean {
  return a.r === b.r && a.alpha === b.alpha && a.rslora === b.rslora && a.scale === b.scale && a.dropout === b.dropout;
}

/** Reads a model's LoRA layers back to the host. Every layer must share r, alpha and dropout. */
export async function adapterFromModel(model: Module, opts: { numLayers?: number; baseModel?: string } = {}): Promise<LoRAAdapter> {
  const layers = loraLayers(model);
  if (!layers.size) throw new Error('saveAdapter: the model has no LoRA layers (apply LoRA or load an adapter first)');
  let hyper: LoRAHyper | null = null;
  let first = '';
  const modules = new Map<string, { A: HostMatrix; B: HostMatrix }>();
  for (const [path, lora] of layers) {
    if (!splitBlockPath(path)) throw new Error(`saveAdapter: LoRA on ${path} is not supported (only the Linear modules of model.layers.N)`);
    const { r, alpha, rslora = false, dropout = 0 } = lora.config;
    // A scale set by hand (or by an mlx-lm adapter) is kept: alpha is what gives that scale.
    const a = lora.scale === loraScale(lora.config) ? alpha : rslora ? lora.scale * Math.sqrt(r) : lora.scale * r;
    const h: LoRAHyper = { r, alpha: a, rslora, scale: lora.scale, dropout };
    if (!hyper) { hyper = h; first = path; }
    else if (!sameHyper(hyper, h)) {
      throw new Error(`saveAdapter: LoRA layers differ (${first}: r=${hyper.r} alpha=${hyper.alpha} dropout=${hyper.dropout}${hyper.rslora ? ' rslora' : ''}; ${path}: r=${h.r} alpha=${h.alpha} dropout=${h.dropout}${h.rslora ? ' rslora' : ''}); one adapter file holds one setting (PEFT's rank_pattern/alpha_pattern are not supported)`);
    }
    const A = Float32Array.from(await lora.lora_A.data());
    const B = Float32Array.from(await lora.lora_B.data());
    modules.set(path, { A: { shape: [lora.lora_A.shape[0], lora.lora_A.shape[1]], data: A }, B: { shape: [lora.lora_B.shape[0], lora.lora_B.shape[1]], data: B } });
  }
  return { ...hyper!, modules, numLayers: opts.numLayers, baseModel: opts.baseModel, dtype: 'F32' };
}

/** The decoder layers and block modules an adapter touches. */
export function adapterLayout(a: { modules: Map<string, unknown> }, file: string): { layers: number[]; keys: string[]; names: string[] } {
  const layers = new Set<number>(), keys = new Set<string>(), names = new Set<string>();
  for (const path of a.modules.keys()) {
    const b = splitBlockPath(path);
    if (!b) throw new Error(`${file}: LoRA on ${path} is not supported (only the Linear modules of model.layers.N)`);
    layers.add(b.layer); keys.add(b.key); names.add(b.name);
  }
  const order = Object.keys(LLAMA_BLOCK_LINEARS);
  const byName = (x: string, y: string) => order.indexOf(x.slice(x.lastIndexOf('.') + 1)) - order.indexOf(y.slice(y.lastIndexOf('.') + 1));
  return { layers: [...layers].sort((x, y) => x - y), keys: [...keys].sort(byName), names: [...names].sort(byName) };
}
