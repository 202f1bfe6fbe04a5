// Load a Llama-family checkpoint: a Hugging Face folder (config.json + safetensors, sharded or
// not) or a llama2.c .bin (q/k rows converted to the rotate-half layout HF Llama uses).
import type { Backend } from '../../../engine/index.ts';
import { openHfWeights } from '../../io/hf-weights.ts';
import { readLlama2cCheckpointFile } from '../../io/llama2c.ts';
import { joinPath, pathKind, readTextFile } from '../../io/node-fs.ts';
import type { TensorData } from '../../io/tensor-data.ts';
import { tensor } from '../../../engine/ops/index.ts';
import { tidy } from '../../../engine/memory.ts';
import type { Tensor } from '../../../engine/tensor.ts';
import { llamaConfigFromHf } from './config.ts';
import { LlamaForCausalLM } from './model.ts';

export interface LoadedModel {
  model: LlamaForCausalLM;
  /** 'hf' folder or 'llama2c' checkpoint. */
  format: 'hf' | 'llama2c';
  path: string;
}

/** Upload host tensors and load them into the model by Hugging Face name. */
export function loadWeights(model: LlamaForCausalLM, weights: Map<string, TensorData>, source: string): void {
  const params = new Set(model.namedParameters().map(([n]) => n));
  const values = new Map<string, Tensor>();
  tidy(() => {
    for (const [name, td] of weights) {
      if (!params.has(name)) {
        // Tied checkpoints may still carry lm_head.weight; rotary caches are derived, not learned.
        if (name === 'lm_head.weight' && model.config.tieWordEmbeddings) continue;
        if (name.endsWith('rotary_emb.inv_freq')) continue;
        throw new Error(`${source}: tensor ${name} [${td.shape}] is not a parameter of this Llama model`);
      }
      if (td.dtype !== 'f32') throw new Error(`${source}: tensor ${name} has integer dtype ${td.sourceDtype ?? td.dtype}, expected floats`);
      values.set(name, tensor(td.data, td.shape, { backend: model.backend }));
    }
    try {
      model.loadStateDict(values);
    } catch (e) {
      throw new Error(`${source}: ${(e as Error).message}`);
    }
  });
}

export async function loadLlama(path: string, opts: { backend: Backend }): Promise<LoadedModel> {
  const kind = await pathKind(path);
  if (kind === null) throw new Error(`model: ${path} does not exist`);
  if (kind === 'directory') {
    const cfgPath = joinPath(path, 'config.json');
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(await readTextFile(cfgPath));
    } catch (e) {
      throw new Error(`${cfgPath}: ${(e as Error).message}`);
    }
    const config = llamaConfigFromHf(raw, cfgPath);
    const model = new LlamaForCausalLM(config, opts);
    const src = await openHfWeights(path);
    try {
      loadWeights(model, await src.loadAll(), path);
    } finally {
      await src.close();
    }
    return { model, format: 'hf', path };
  }
  const ckpt = await readLlama2cCheckpointFile(path, { ropeLayout: 'rotate_half' });
  const config = llamaConfigFromHf(ckpt.hfConfig as unknown as Record<string, unknown>, path);
  const model = new LlamaForCausalLM(config, opts);
  loadWeights(model, ckpt.tensors, path);
  return { model, format: 'llama2c', path };
}
