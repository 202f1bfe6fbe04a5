// Autoregressive generation with a KV cache, for a batch of prompts of different lengths:
// prompts are left-padded (segment 0, so no real token attends to padding), and each sequence
// keeps its own positions.
//
// Host round trips: the ids a step samples stay on the device and are the next step's input; the
// host reads them back only every `checkEvery` steps (one read of [k, B] ids) to find stop tokens.
// The result is the one a read per step gives: rows are independent (a finished row's later
// tokens, which it still computes, are dropped), one uniform per sequence is drawn per step
// whatever k is, and steps run past the point where every row had stopped are undone on the
// generator (its state is set back to the one after the last needed step), so the caller's
// stream continues exactly as with k = 1.
// LoRA adapters are merged into copies of their frozen weights for the generation (decode.ts
// MergedAdapters), so adapted blocks take the fused decode step too.
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { concat, reshape, sampleTokens, tensor } from '../../engine/ops/index.ts';
import { Generator } from '../../engine/random.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { decodeFusion, MergedAdapters } from '../models/llama/decode.ts';
import { KVCache } from '../models/llama/kv-cache.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { samplingParams, type SamplingOpts } from './sampling.ts';

/** Steps between reads of the sampled ids when no onTokens callback streams them. */
export const DEFAULT_CHECK_EVERY = 8;

export interface GenerateOpts extends SamplingOpts {
  maxNewTokens: number;
  seed?: number;
  /** Draw from this generator instead of a fresh one seeded with `seed` (a trainer's sampler state). */
  rng?: Generator;
  /** Generation of a sequence ends after it emits one of these (the stop token is kept). */
  stopTokens?: number[];
  /** Called with each sequence's new token per step (streaming output); the ids are then read every step. */
  onTokens?: (tokens: (number | null)[]) => void;
  /** Steps between reads of the sampled ids (stop checks); default DEFAULT_CHECK_EVERY, 1 with onTokens. */
  checkEvery?: number;
  /** Merge LoRA adapters into weight copies while sampling (fused decode steps; default true). */
  mergeAdapters?: boolean;
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
  const every = opts.onTokens ? 1 : opts.checkEvery ?? DEFAULT_CHECK_EVERY;
  if (!Number.isInteger(every) || every < 1) throw new Error(`generate: checkEvery ${opts.checkEvery} must be an integer ≥ 1`);
  const params = samplingParams(opts);
  const rng = opts.rng ?? new Generator(opts.seed ?? 0);
  const stops = new Set(opts.stopTokens ?? []);
  const backend = model.backend;
  const pad = prompts.map((p) => maxLen - p.length);
  // Segment ids: 0 on left padding, 1 on real tokens (the cache keeps those of earlier steps).
  let segments = pad.map((n) => Array.from({ length: maxLen }, (_, t) => (t < n ? 0 : 1)));
  let positions = prompts.map((_, b) => Array.from({ length: maxLen }, (_, t) => Math.max(0, t - pad[b])));
  const out: number[][] = prompts.map(() => []);
  const done = new Array(B).fill(false);
  const cache = new KVCache(model.config.numLayers, { capacity: maxLen + opts.maxNewTokens });
  const fusable = decodeFusion.enabled && model.hooks.length === 0 && opts.mergeAdapters !== false;
  const merged = fusable ? MergedAdapters.of(model.model.layers) : null;
  // Sampled ids [B] i32 of the steps not read yet, and the generator's state after each one's draws.
  const pending: { ids: Tensor; rngAfter: number[] | null }[] = [];
  let input: Tensor | null = null; // the last sampled ids: the next step's input
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      // One uniform per sequence per step (done ones too, so a batch's stream does not depend on
      // when its rows finish); the token is drawn on the device.
      const u = params.temperature > 0 ? Array.from({ length: B }, () => rng.uniform()) : new Array<number>(B).fill(0);
      const prev = input;
      const ids = noGrad(() => tidy(() => {
        const x = prev ? reshape(prev, [B, 1]) : tensor(Int32Array.from(prompts.flatMap((p, b) => [...new Array<number>(pad[b]).fill(0), ...p])), [B, maxLen], { dtype: 'i32', backend });
        const logits = model.forward(x, { cache, positions, segments, lastOnly: true, merged });
        return sampleTokens(reshape(logits, [B, model.config.vocabSize]), tensor(u, [B], { backend }), params);
      }));
      pending.push({ ids, rngAfter: params.temperature > 0 ? rng.getState() : null });
      if (prev && !pending.some((c) => c.ids === prev)) prev.dispose(); // read already, and now used as input
      input = ids;
      positions = positions.map((p) => [p[p.length - 1] + 1]);
      segments = prompts.map(() => [1]);
      if (pending.length < every && step + 1 < opts.maxNewTokens) continue;
      // Read the chunk's ids in one go and replay it step by step, as a read per step would see it.
      const chunk = pending.splice(0);
      const data = await readIds(chunk.map((c) => c.ids), B);
      let finished = -1; // the chunk step after which every row had stopped
      for (let s = 0; s < chunk.length && finished < 0; s++) {
        const next = prompts.map((_, b) => (done[b] ? null : data[s * B + b]));
        next.forEach((t, b) => {
          if (t === null) return;
          out[b].push(t);
          if (stops.has(t)) done[b] = true;
        });
        opts.onTokens?.(next);
        if (done.every(Boolean)) finished = s;
      }
      for (const c of chunk) if (c.ids !== input) c.ids.dispose();
      if (finished >= 0) {
        const state = chunk[finished].rngAfter;
        if (state) rng.setState(state); // undo the draws of the steps past the end
        break;
      }
    }
  } finally {
    for (const t of new Set([...pending.map((c) => c.ids), ...(input ? [input] : [])])) t.dispose();
    cache.dispose();
    merged?.dispose();
  }
  return out;
}

/** The sampled ids of k steps ([B] each) as one host array [k·B]: one read for the chunk. */
async function readIds(steps: Tensor[], B: number): Promise<ArrayLike<number>> {
  if (steps.length === 1) return steps[0].data();
  const all = noGrad(() => tidy(() => concat(steps.map((t) => reshape(t, [1, B])), 0)));
  try {
    return await all.data();
  } finally {
    all.dispose();
  }
}
