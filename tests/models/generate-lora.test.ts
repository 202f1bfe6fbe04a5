// generate() on a LoRA-wrapped model (GRPO's policy) against a reference loop written here: the
// uncached forward over the whole sequence each step (the training path: LoRA through its own
// kernel, no merge, no fused block), the last logits sampled with sampleTokens from one uniform per
// sequence per step, every step's ids read back, stops applied per row. generate() decodes through
// the fused block with the adapters merged into weight copies and reads the ids every k steps; its
// ids must equal the reference's (greedy and seeded sampling, left padding, rows stopping at
// different steps) and the caller's generator must end in the reference's state, for k = 1
// (onTokens), 3 and the default. On WebGPU a decode step of the adapted model records 6 dispatches
// per layer, with 3 rows and with 20 (row blocks of the GEMV), and the ids are read once per k steps.
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as w from '../../engine/index.ts';
import { applyLoRA } from '../../engine/nn/apply-lora.ts';
import { Tensor } from '../../engine/tensor.ts';
import { generate } from '../../llm/generate/generate.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { TINY } from '../../bench/models.ts';
import type { Backend } from '../../backends/backend.ts';
import type { WebGPUBackend } from '../../backends/webgpu/index.ts';
import { testBackends } from '../setup/backends.ts';

const PROMPTS = [[5, 9, 3, 200, 17], [42, 7], [1, 77, 3]];
const STEPS = 6;

/** TINY with LoRA (r 4) on all seven projections, adapters non-zero so they change the outputs. */
function loraModel(backend: Backend): LlamaForCausalLM {
  const m = new LlamaForCausalLM(TINY.config, { backend });
  randomInit(m, 3, 0.3);
  const lora = applyLoRA(m, { r: 4, alpha: 8, targetModules: ['all-linear'], seed: 1 });
  const g = new w.Generator(5);
  w.noGrad(() => {
    for (const [name, p] of m.namedParameters()) {
      if (name.endsWith('norm.weight')) p.assign(w.add(w.randn(p.shape, { generator: g, std: 0.2, backend }), 1));
    }
    for (const l of lora.values()) l.lora_B.assign(w.randn(l.lora_B.shape, { generator: g, std: 0.3, backend }));
  });
  return m;
}

/** The reference loop: ids per row (truncated after its first stop) and the generator's state at the end. */
async function reference(m: LlamaForCausalLM, o: { temperature: number; seed: number; stops: number[]; steps: number }) {
  const B = PROMPTS.length, V = m.config.vocabSize, P = Math.max(...PROMPTS.map((p) => p.length));
  const pad = PROMPTS.map((p) => P - p.length);
  const seq = PROMPTS.map((p, b) => [...new Array<number>(pad[b]).fill(0), ...p]);
  const rng = new w.Generator(o.seed);
  const out: number[][] = PROMPTS.map(() => []), done = PROMPTS.map(() => false);
  for (let s = 0; s < o.steps && !done.every(Boolean); s++) {
    const T = seq[0].length;
    const u = Array.from({ length: B }, () => (o.temperature > 0 ? rng.uniform() : 0));
    const ids = w.noGrad(() => w.tidy(() => {
      const x = w.tensor(Int32Array.from(seq.flat()), [B, T], { dtype: 'i32', backend: m.backend });
      const positions = seq.map((_, b) => Array.from({ length: T }, (_, t) => Math.max(0, t - pad[b])));
      const segments = seq.map((_, b) => Array.from({ length: T }, (_, t) => (t < pad[b] ? 0 : 1)));
      const logits = m.forward(x, { positions, segments, lastOnly: true });
      return w.sampleTokens(w.reshape(logits, [B, V]), w.tensor(u, [B], { backend: m.backend }), { temperature: o.temperature, topK: 0, topP: 1 });
    }));
    const d = await ids.data();
    ids.dispose();
    seq.forEach((r, b) => r.push(d[b]));
    d.forEach((t, b) => {
      if (done[b]) return;
      out[b].push(t);
      if (o.stops.includes(t)) done[b] = true;
    });
  }
  return { ids: out, rngState: rng.getState() };
}

for (const { name, get } of testBackends().filter((b) => b.name !== 'cpu-f64')) {
  describe(`generate() with LoRA on ${name}`, () => {
    let m: LlamaForCausalLM | null = null;
    afterAll(() => m?.dispose());

    it('greedy: fused decoding with merged adapters gives the reference ids, and the weights are untouched', async () => {
      m = loraModel(await get());
      const before = await Promise.all(m.parameters().map((p) => p.data()));
      const ref = await reference(m, { temperature: 0, seed: 0, stops: [], steps: STEPS });
      expect(await generate(m, PROMPTS, { maxNewTokens: STEPS })).toEqual(ref.ids);
      // Without the merge (mergeAdapters false) the adapted blocks take the unfused path: same ids.
      expect(await generate(m, PROMPTS, { maxNewTokens: STEPS, mergeAdapters: false })).toEqual(ref.ids);
      const after = await Promise.all(m.parameters().map((p) => p.data()));
      after.forEach((a, i) => expect(Array.from(a)).toEqual(Array.from(before[i])));
    });

    it('seeded sampling with rows stopping at different steps: reference ids and generator state for k = 1, 3, default', async (ctx) => {
      if (!m) return ctx.skip('needs the model above');
      // Stops: row 0's 2nd token and row 2's 5th, so rows end at different steps and all end
      // (here at step 5 at the latest) inside a chunk of k = 3, whose later draws must be undone.
      const free = await reference(m, { temperature: 1, seed: 7, stops: [], steps: STEPS });
      const stops = [free.ids[0][1], free.ids[2][4], free.ids[1][3]];
      const ref = await reference(m, { temperature: 1, seed: 7, stops, steps: STEPS });
      const lengths = ref.ids.map((r) => r.length);
      console.log(`${name}: sampled lengths with stops ${lengths.join(', ')} of ${STEPS}`);
      expect(Math.max(...lengths)).toBeLessThan(STEPS); // every row stops early
      expect(new Set(lengths).size).toBeGreaterThan(1); // at different steps
      for (const k of [1, 3, undefined]) {
        const rng = new w.Generator(7);
        const streamed: (number | null)[][] = [];
        const ids = await generate(m, PROMPTS, {
          maxNewTokens: STEPS, temperature: 1, rng, stopTokens: stops, checkEvery: k,
          onTokens: k === 1 ? (t) => streamed.push(t) : undefined,
        });
        expect(ids).toEqual(ref.ids);
        expect(rng.getState()).toEqual(ref.rngState);
        if (k === 1) expect(streamed.length).toBe(Math.max(...lengths));
      }
    });

    if (name === 'webgpu') {
      it('a decode step of the adapted model records 6 dispatches per layer, with 3 rows and with 20', async () => {
        const g = (await get()) as WebGPUBackend;
        const perStep = async (layers: number, prompts: number[][]) => {
          const model = new LlamaForCausalLM({ ...TINY.config, numLayers: layers }, { backend: g });
          randomInit(model, 3, 0.3);
          applyLoRA(model, { r: 4, alpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], seed: 1 });
          const counts: number[] = [];
          let last = g.counters.dispatches;
          await generate(model, prompts, { maxNewTokens: 3, onTokens: () => { counts.push(g.counters.dispatches - last); last = g.counters.dispatches; } });
          model.dispose();
          return counts[2]; // a decode step (step 0 is the prefill)
        };
        const many = Array.from({ length: 20 }, (_, i) => [1 + i, 2 * i + 3]);
        for (const prompts of [PROMPTS, many]) {
          const d2 = await perStep(2, prompts), d4 = await perStep(4, prompts);
          const perLayer = (d4 - d2) / 2, fixed = d2 - 2 * perLayer;
          console.log(`LoRA decode step, ${prompts.length} rows: ${perLayer} dispatches per layer + ${fixed} per token`);
          expect(perLayer).toBe(6);
          expect(fixed).toBeLessThanOrEqual(5);
        }
      });

      it('the sampled ids are read once per k steps', async (ctx) => {
        if (!m) return ctx.skip('needs the model above');
        // Reads of tensors during 8 steps: one per step with k = 1, one per 4 steps with k = 4.
        const reads = vi.spyOn(Tensor.prototype, 'data');
        try {
          for (const [k, want] of [[1, 8], [4, 2]] as const) {
            reads.mockClear();
            await generate(m!, PROMPTS, { maxNewTokens: 8, checkEvery: k });
            expect(reads.mock.calls.length).toBe(want);
          }
        } finally {
          reads.mockRestore();
        }
      });
    }
  });
}
