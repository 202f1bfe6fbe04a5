// Decoding with the preallocated KV cache and the fused decoder block (llm/models/llama/decode.ts):
// on a 2-layer GQA model with left-padded prompts of three lengths, the logits of every step equal
// those of a full forward pass without a cache (the path training uses) within 1e-5 of the largest
// logit on cpu and
// WebGPU, the unfused block with the same cache agrees too, generate()'s greedy ids equal the
// uncached greedy ids, cpu and WebGPU agree with each other, and a decode step records
// 6 dispatches per layer on WebGPU (the bound of the design; the issue asks for ≤ 8).
import { afterAll, describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { generate } from '../../llm/generate/generate.ts';
import { decodeFusion } from '../../llm/models/llama/decode.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { KVCache } from '../../llm/models/llama/kv-cache.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { TINY } from '../../bench/models.ts';
import type { Backend } from '../../backends/backend.ts';
import type { WebGPUBackend } from '../../backends/webgpu/index.ts';
import { testBackends } from '../setup/backends.ts';

const PROMPTS = [[5, 9, 3, 200, 17, 8], [42, 7], [1]];
const STEPS = 3; // uncached T = 6..8: one attention tile, fewer pipelines to compile on SwiftShader

/** TINY (hidden 64, 4 heads over 2 kv heads of 16) with weights large enough that greedy picks are clear. */
function tinyModel(backend: Backend, numLayers = 2): LlamaForCausalLM {
  const m = new LlamaForCausalLM({ ...TINY.config, numLayers }, { backend });
  randomInit(m, 3, 0.3);
  const g = new w.Generator(4);
  w.noGrad(() => {
    for (const [name, p] of m.namedParameters()) {
      if (name.endsWith('norm.weight')) p.assign(w.add(w.randn(p.shape, { generator: g, std: 0.2, backend }), 1));
    }
  });
  return m;
}

const argmaxRows = (d: ArrayLike<number>, V: number) =>
  Array.from({ length: d.length / V }, (_, b) => { let best = 0; for (let c = 1; c < V; c++) if (d[b * V + c] > d[b * V + best]) best = c; return best; });

/** Greedy steps as generate() takes them (left padding, per-sequence positions), returning each step's last logits [B·V]. */
async function greedy(m: LlamaForCausalLM, cached: boolean, prompts = PROMPTS): Promise<{ ids: number[][]; logits: Float32Array[] }> {
  const B = prompts.length, V = m.config.vocabSize, P = Math.max(...prompts.map((p) => p.length));
  const pad = prompts.map((p) => P - p.length);
  const seq = prompts.map((p, b) => [...new Array(pad[b]).fill(0), ...p]);
  const cache = cached ? new KVCache(m.config.numLayers, { capacity: P }) : undefined; // grows (a copy) at step 1
  const ids: number[][] = prompts.map(() => []), logits: Float32Array[] = [];
  for (let s = 0; s < STEPS; s++) {
    const T = seq[0].length, from = cached && s > 0 ? T - 1 : 0;
    const x = w.tensor(Int32Array.from(seq.flatMap((r) => r.slice(from))), [B, T - from], { dtype: 'i32', backend: m.backend });
    const positions = seq.map((_, b) => Array.from({ length: T - from }, (_, t) => Math.max(0, from + t - pad[b])));
    const segments = seq.map((_, b) => Array.from({ length: T - from }, (_, t) => (from + t < pad[b] ? 0 : 1)));
    const out = w.noGrad(() => m.forward(x, { cache, positions, segments, lastOnly: true }));
    const d = (await out.data()) as Float32Array;
    out.dispose(); x.dispose();
    logits.push(d);
    argmaxRows(d, V).forEach((t, b) => { ids[b].push(t); seq[b].push(t); });
  }
  cache?.dispose();
  return { ids, logits };
}

const worst = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((x, s) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - b[s][i])), 0)));

const results: Record<string, { ids: number[][]; logits: Float32Array[] }> = {};

for (const { name, get } of testBackends().filter((b) => b.name !== 'cpu-f64')) {
  describe(`llama decoding on ${name}`, () => {
    let m: LlamaForCausalLM | null = null;
    let ref: { ids: number[][]; logits: Float32Array[] } | null = null;
    const scaleOf = (r: { logits: Float32Array[] }) => Math.max(...r.logits.flatMap((l) => Array.from(l, Math.abs)));
    afterAll(() => m?.dispose());

    // Tolerance 1e-5 of the largest logit: f32 rounding of logits near 9 is already ~1e-6 (WebGPU's
    // unfused cached step differs from the uncached pass by 1.5e-5 there, from tile order alone).
    it('fused cached steps give the uncached logits (1e-5) and ids; generate() picks the same ids', async () => {
      const backend = await get();
      m = tinyModel(backend);
      ref = await greedy(m, false);
      const fused = await greedy(m, true);
      const scale = scaleOf(ref);
      console.log(`${name}: |logits| ≤ ${scale.toFixed(2)}, fused vs uncached ${worst(fused.logits, ref.logits).toExponential(2)}`);
      expect(scale).toBeGreaterThan(0.5);
      expect(worst(fused.logits, ref.logits)).toBeLessThan(1e-5 * scale);
      expect(fused.ids).toEqual(ref.ids);
      expect(await generate(m, PROMPTS, { maxNewTokens: STEPS })).toEqual(ref.ids);
      results[name] = fused;
    });

    it('the unfused block over the same preallocated cache agrees too', async (ctx) => {
      if (!m || !ref) return ctx.skip('needs the run above');
      decodeFusion.enabled = false;
      const unfused = await greedy(m, true).finally(() => { decodeFusion.enabled = true; });
      console.log(`${name}: unfused vs uncached ${worst(unfused.logits, ref.logits).toExponential(2)}`);
      expect(worst(unfused.logits, ref.logits)).toBeLessThan(1e-5 * scaleOf(ref));
      expect(unfused.ids).toEqual(ref.ids);
    });

    if (name === 'cpu') {
      it('a prefill of at most 16 rows takes the fused block too (T > 1, padding) and agrees', async () => {
        const m2 = tinyModel(await get());
        const small = [[5, 9, 3], [42]]; // B·T = 6 rows
        const r = await greedy(m2, false, small), f = await greedy(m2, true, small);
        expect(worst(f.logits, r.logits)).toBeLessThan(1e-5 * scaleOf(r));
        expect(f.ids).toEqual(r.ids);
        m2.dispose();
      });
    }

    if (name === 'webgpu') {
      it('WebGPU equals cpu (ids; logits within 1e-5 of the largest)', async (ctx) => {
        if (!results.cpu || !results.webgpu) return ctx.skip('needs both runs above');
        expect(results.webgpu.ids).toEqual(results.cpu.ids);
        expect(worst(results.webgpu.logits, results.cpu.logits)).toBeLessThan(1e-5 * scaleOf(results.cpu));
      });

      it('a decode step records 6 dispatches per layer', async () => {
        const g = (await get()) as WebGPUBackend;
        // Per layer: qkv (norm folded in), rope + cache write, attention, o_proj + residual,
        // gate/up + swiglu (norm folded in), down + residual. Layer count 2 vs 4 isolates them.
        const perStep = async (layers: number) => {
          const m = tinyModel(g, layers);
          const counts: number[] = [];
          let last = g.counters.dispatches;
          await generate(m, PROMPTS, { maxNewTokens: 3, onTokens: () => { counts.push(g.counters.dispatches - last); last = g.counters.dispatches; } });
          m.dispose();
          return counts[2]; // a decode step (steps 1 and 2 alike; step 0 is the prefill)
        };
        const d2 = await perStep(2), d4 = await perStep(4);
        const perLayer = (d4 - d2) / 2, fixed = d2 - 2 * perLayer;
        console.log(`decode step: ${perLayer} dispatches per layer + ${fixed} per token (embedding, final norm, lm_head, sampling)`);
        expect(perLayer).toBe(6);
        expect(perLayer).toBeLessThanOrEqual(8);
        expect(fixed).toBeLessThanOrEqual(5);
      });
    }
  });
}
