// The model in the worker: its files go into the in-memory file system under /model (fetched from
// this page's origin, or the File objects the user picked), then the toolkit's own loaders read
// them. Also the numbers the page shows before training: parameters, memory, checkpoint size.
import { loadLlama, loadTokenizer, type LlamaForCausalLM, type MemoryFileSystem, type Tokenizer, type TrainOptionValues, optionValue } from '../../../llm/index.ts';
import type { MemoryEstimate, ModelInfo, ModelSource } from '../protocol.ts';
import type { Backend } from '../../../engine/index.ts';

export const MODEL_DIR = '/model';

/** The files of a Hugging Face folder the loaders read; anything else picked is ignored. */
const WANTED = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|.*\.safetensors|model\.safetensors\.index\.json)$/;

/** Fetches a Hugging Face folder served by this page's origin (base ends with /). */
export async function fetchModelFiles(fs: MemoryFileSystem, base: string): Promise<void> {
  const url = (name: string) => new URL(name, new URL(base, location.href)).href;
  if (new URL(url('x')).origin !== location.origin) throw new Error(`model URL ${base}: only this page's origin is used (nothing leaves the machine)`);
  const get = async (name: string, required: boolean) => {
    const r = await fetch(url(name));
    if (!r.ok) {
      if (required) throw new Error(`model: ${url(name)} answered ${r.status} ${r.statusText}`);
      return;
    }
    fs.put(`${MODEL_DIR}/${name}`, new Uint8Array(await r.arrayBuffer()));
  };
  await get('config.json', true);
  await get('tokenizer.json', true);
  await get('tokenizer_config.json', false);
  const index = await fetch(url('model.safetensors.index.json'));
  if (index.ok) {
    const text = await index.text();
    fs.put(`${MODEL_DIR}/model.safetensors.index.json`, new TextEncoder().encode(text));
    const shards = new Set(Object.values((JSON.parse(text) as { weight_map: Record<string, string> }).weight_map));
    for (const s of shards) await get(s, true);
  } else await get('model.safetensors', true);
}

/** Puts the picked files of a model folder under /model (by their base names). */
export function putModelFiles(fs: MemoryFileSystem, files: File[]): { name: string; size: number }[] {
  const kept = files.filter((f) => WANTED.test(f.name));
  const need = ['config.json', 'tokenizer.json'];
  const missing = need.filter((n) => !kept.some((f) => f.name === n));
  if (missing.length) throw new Error(`model folder: ${missing.join(' and ')} missing (picked: ${files.map((f) => f.name).join(', ') || 'nothing'})`);
  if (!kept.some((f) => f.name.endsWith('.safetensors'))) throw new Error('model folder: no .safetensors weights (PyTorch .bin checkpoints are not read)');
  for (const f of kept) fs.put(`${MODEL_DIR}/${f.name}`, f);
  return kept.map((f) => ({ name: f.name, size: f.size }));
}

export async function loadModel(backend: Backend): Promise<{ model: LlamaForCausalLM; tokenizer: Tokenizer }> {
  const tokenizer = await loadTokenizer(MODEL_DIR);
  const { model } = await loadLlama(MODEL_DIR, { backend });
  return { model, tokenizer };
}

export function modelInfo(model: LlamaForCausalLM, source: ModelSource, limits: Record<string, number>): ModelInfo {
  const c = model.config;
  let parameters = 0;
  for (const p of model.parameters()) parameters += p.size;
  return {
    source, architecture: `Llama (${c.numLayers} layers, ${c.numHeads}/${c.numKvHeads} heads, ${c.tieWordEmbeddings ? 'tied' : 'untied'} embeddings)`,
    layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, vocab: c.vocabSize, parameters,
    weightBytes: parameters * 4, largestBuffer: c.vocabSize * c.hiddenSize * 4,
    bufferLimit: limits.maxStorageBufferBindingSize ?? null,
  };
}

const TARGET_SHAPES: Record<string, (m: LlamaForCausalLM) => [number, number]> = {
  q_proj: (m) => [m.config.hiddenSize, m.config.numHeads * m.config.headDim],
  k_proj: (m) => [m.config.hiddenSize, m.config.numKvHeads * m.config.headDim],
  v_proj: (m) => [m.config.hiddenSize, m.config.numKvHeads * m.config.headDim],
  o_proj: (m) => [m.config.numHeads * m.config.headDim, m.config.hiddenSize],
  gate_proj: (m) => [m.config.hiddenSize, m.config.intermediateSize],
  up_proj: (m) => [m.config.hiddenSize, m.config.intermediateSize],
  down_proj: (m) => [m.config.intermediateSize, m.config.hiddenSize],
};

/**
 * What a run needs, in bytes: float32 weights; trainable parameters with their gradient and AdamW's
 * two moments; activations kept for backward, about (16·hidden + 2·intermediate) floats per token
 * and layer plus the logits and their gradient; a checkpoint (weights + optimizer state) twice over.
 */
export function estimateMemory(model: LlamaForCausalLM, v: TrainOptionValues): MemoryEstimate {
  const c = model.config;
  let weights = 0;
  for (const p of model.parameters()) weights += p.size * 4;
  const r = optionValue(v, 'lora-r') as number;
  const targets = String(optionValue(v, 'lora-targets')).split(',').map((s) => s.trim());
  const full = optionValue(v, 'full') as boolean;
  const expanded = targets.includes('all-linear') ? Object.keys(TARGET_SHAPES) : targets;
  const trainableParams = full ? weights / 4 : c.numLayers * expanded.reduce((s, t) => {
    const shape = TARGET_SHAPES[t]?.(model);
    return s + (shape ? r * (shape[0] + shape[1]) : 0);
  }, 0);
  const trainable = trainableParams * 4;
  const optimizer = trainable * 3;
  const tokens = (optionValue(v, 'batch-size') as number) * ((optionValue(v, 'max-length') as number | undefined) ?? Math.min(1024, c.maxPositions)) * (optionValue(v, 'method') === 'sft' ? 1 : 2);
  const activations = tokens * 4 * (c.numLayers * (16 * c.hiddenSize + 2 * c.intermediateSize) + 2 * c.vocabSize);
  return { weights, trainable, optimizer, activations, total: weights + optimizer + activations, checkpoint: 2 * trainable * 3 };
}
