// Control vectors applied during a forward or generation: S·v added to each chosen block's output
// (repeng's ControlModel, llama.cpp's --control-vector). Several vectors add (llama.cpp sums their
// scaled data per block); a negative strength subtracts. After the prompt (CAA's
// add_vector_after_position): only positions after each prompt's last token, i.e. generated tokens.
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { additionHook, type EditHook } from '../hooks.ts';

export interface ScaledVector { directions: ReadonlyMap<number, Float32Array>; strength: number; source?: string }

export interface ControlOptions {
  /** Inclusive block range [first, last]; blocks outside it are not steered. */
  layers?: [number, number];
  /** Per prompt, its length: steer only positions ≥ it. */
  afterPrompt?: number[];
}

/** The summed, scaled vectors per block, checked against the model (hidden size named with the file). */
export function combineVectors(model: LlamaForCausalLM, vectors: readonly ScaledVector[], o: Pick<ControlOptions, 'layers'> = {}): Map<number, Float32Array> {
  const { hiddenSize: H, numLayers: L } = model.config;
  const sum = new Map<number, Float32Array>();
  for (const v of vectors) {
    for (const [l, d] of v.directions) {
      const from = v.source ? `${v.source}: ` : '';
      if (d.length !== H) throw new Error(`${from}direction.${l} has ${d.length} values, but the model's hidden size is ${H}`);
      if (l >= L) throw new Error(`${from}direction.${l} is for block ${l}, but the model has blocks 0..${L - 1}`);
      if (o.layers && (l < o.layers[0] || l > o.layers[1])) continue;
      const acc = sum.get(l) ?? new Float32Array(H);
      for (let j = 0; j < H; j++) acc[j] += v.strength * d[j];
      sum.set(l, acc);
    }
  }
  return sum;
}

export function controlHook(model: LlamaForCausalLM, vectors: readonly ScaledVector[], o: ControlOptions = {}): EditHook {
  const from = o.afterPrompt;
  return additionHook(model, combineVectors(model, vectors, o), { point: 'block_output', from: from ? () => from : undefined });
}
