// Autoregressive generation with a KV cache, for a batch of prompts of different lengths:
// prompts are left-padded (segment 0, so no real token attends to padding), and each sequence
// keeps its own positions.
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { reshape, sampleTokens, tensor } from '../../engine/ops/index.ts';
import { Generator } from '../../engine/random.ts';
import { KVCache } from '../models/llama/kv-cache.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { samplingParams, type SamplingOpts } from './sampling.ts';

export interface GenerateOpts extends SamplingOpts {
  maxNewTokens: number;
  seed?: number;
  /** Draw from this generator instead of a fresh one seeded with `seed` (a trainer's sampler state). */
  rng?: Generator;
  /** Generation of a sequence ends after it emits one of these (the stop token is kept). */
  stopTokens?: number[];
  /** Called with each sequence's new token per step (streaming output). */
  onTokens?: (tokens: (number | null)[]) => void;
}

/** Returns the new tokens of each prompt (not including the prompt). */
export async function generate(model: LlamaForCausalLM, prompts: number[][], opts: GenerateOpts): Promise<number[][]> {
  const B = prompts.length;
  if (B === 0) return [];
  if (prompts.some((p) => p.length === 0)) throw new Error('generate: every prompt needs at least one token (e.g. BOS)');
  const maxLen = Math.max(...prompts.map((p) => p.length));
  if (maxLen + opts.maxNewTokens > model.config.maxPositions) {
    throw new Error(`generate: ${maxLen} prompt + ${opts.maxNewTokens} new tokens exceed the model's ${model.config.maxPositions} positions`);
  }
  const params = samplingParams(opts);
  const rng = opts.rng ?? new Generator(opts.seed ?? 0);
  const stops = new Set(opts.stopTokens ?? []);
  const backend = model.backend;
  const pad = prompts.map((p) => maxLen - p.length);
  // Segment ids: 0 on left padding, 1 on real tokens (the cache keeps those of earlier steps).
  let segments = pad.map((n) => Array.from({ length: maxLen }, (_, t) => (t < n ? 0 : 1)));
  const out: number[][] = prompts.map(() => []);
  const done = new Array(B).fill(false);
  const cache = new KVCache(model.config.numLayers, { capacity: maxLen + opts.maxNewTokens });
  try {
    let ids = prompts.map((p, b) => [...new Array(pad[b]).fill(0), ...p]);
    let positions = prompts.map((_, b) => Array.from({ length: maxLen }, (_, t) => Math.max(0, t - pad[b])));
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const T = ids[0].length;
      // One uniform per sequence per step (done ones too, so a batch's stream does not depend on
      // when its rows finish); the token is drawn on the device and only B ids come back.
      const u = params.temperature > 0 ? Array.from({ length: B }, () => rng.uniform()) : new Array<number>(B).fill(0);
      const tokens = noGrad(() => tidy(() => {
        const x = tensor(Int32Array.from(ids.flat()), [B, T], { dtype: 'i32', backend });
        const logits = model.forward(x, { cache, positions, segments, lastOnly: true });
        return sampleTokens(reshape(logits, [B, model.config.vocabSize]), tensor(u, [B], { backend }), params);
      }));
      const data = await tokens.data();
      tokens.dispose();
      const next = prompts.map((_, b) => (done[b] ? null : data[b]));
      next.forEach((t, b) => {
        if (t === null) return;
        out[b].push(t);
        if (stops.has(t)) done[b] = true;
      });
      opts.onTokens?.(next);
      if (done.every(Boolean)) break;
      ids = next.map((t) => [t ?? 0]);
      positions = positions.map((p) => [p[p.length - 1] + 1]);
      segments = prompts.map(() => [1]);
    }
  } finally {
    cache.dispose();
  }
  return out;
}
