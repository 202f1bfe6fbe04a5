// The three forms of one abliteration edit compute the same model: run-time directional ablation
// (hooks at every block input, attention output and MLP output), orthogonalised weights (tied
// models untied first), the rank-1 LoRA form (against the weight edit without the embedding), its
// PEFT files reloaded onto an untouched base, and the exported HF folder reloaded.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { Linear, noGrad, tensor } from '../../engine/index.ts';
import { loadAdapter, saveAdapter, exportHfFolder } from '../../llm/adapters/index.ts';
import { ablationHook, withHooks } from '../../llm/editing/hooks.ts';
import { abliterationLoRA } from '../../llm/editing/abliteration/lora.ts';
import { orthogonalizeWeights, layerWeight } from '../../llm/editing/abliteration/weights.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { maxAbsDiff, tempDirs } from '../adapters/helpers.ts';
import { testBackends } from '../setup/backends.ts';
import { tinyConfig, unitVector, H } from './synthetic.ts';

const IDS = [[3, 17, 5, 29, 8, 1], [11, 2, 30, 4, 4, 19]];
const tmp = tempDirs('ablate');

async function logits(model: LlamaForCausalLM): Promise<Float32Array> {
  const out = noGrad(() => model.forward(tensor(Int32Array.from(IDS.flat()), [2, 6], { dtype: 'i32', backend: model.backend })));
  const d = Float32Array.from(await out.data());
  out.dispose();
  return d;
}

/** 1e-5 relative to the largest logit: f32 rounding of two orders of the same products. */
const tol = (ref: Float32Array) => 1e-5 * Math.max(1, ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0));

function fresh(backend: Backend, tied: boolean, seed = 0): LlamaForCausalLM {
  const m = new LlamaForCausalLM(tinyConfig(tied, 2), { backend });
  randomInit(m, seed, 0.2); // large enough that blocks write strongly along any direction
  return m;
}

for (const { name, get } of testBackends().filter((b) => b.name !== 'cpu-f64')) {
  describe(`abliteration forms on ${name}`, () => {
    for (const tied of [false, true]) {
      it(`run-time ablation = orthogonalised weights (${tied ? 'tied' : 'untied'} embeddings)`, async () => {
        const backend = await get();
        const r = unitVector(H, 5).map((v) => 3 * v); // any length: the edit uses r̂
        const model = fresh(backend, tied);
        const base = await logits(model);
        const h = ablationHook(model, r);
        const ablated = await withHooks(model, [h], () => logits(model));
        h.dispose();
        expect(maxAbsDiff(ablated, base)).toBeGreaterThan(0.05); // the edit matters
        const edited = orthogonalizeWeights(model, r);
        expect(edited.config.tieWordEmbeddings).toBe(false);
        expect(edited === model).toBe(!tied);
        expect(maxAbsDiff(await logits(edited), ablated)).toBeLessThanOrEqual(tol(ablated));
        if (tied) expect(maxAbsDiff(await logits(model), base)).toBe(0); // the tied original is untouched
        edited.dispose();
        if (tied) model.dispose();
      });
    }

    it('the rank-1 LoRA form = the weight edit without the embedding; its PEFT files and the HF folder reload to it', async () => {
      const backend = await get();
      const r = unitVector(H, 6);
      const opts = { scale: 0.8, kernel: { maxWeight: 1, maxWeightPosition: 1, minWeight: 0.5, minWeightDistance: 1 } };
      expect([0, 1].map((l) => layerWeight(l, opts))).toEqual([0.4, 0.8]);
      const weightForm = orthogonalizeWeights(fresh(backend, false, 1), r, { ...opts, embedding: false });
      const want = await logits(weightForm);
      const loraModel = fresh(backend, false, 1);
      const base = await logits(loraModel);
      expect(maxAbsDiff(want, base)).toBeGreaterThan(0.05);
      const layers = abliterationLoRA(loraModel, r, opts);
      expect(layers.size).toBe(4);
      expect(maxAbsDiff(await logits(loraModel), want)).toBeLessThanOrEqual(tol(want));

      const dir = join(tmp(), 'peft');
      await saveAdapter(loraModel, dir, { format: 'peft' });
      const reloaded = fresh(backend, false, 1);
      await loadAdapter(reloaded, dir);
      expect(maxAbsDiff(await logits(reloaded), want)).toBeLessThanOrEqual(tol(want));

      const hf = join(tmp(), 'hf');
      await exportHfFolder(weightForm, hf);
      const back = (await loadLlama(hf, { backend })).model;
      expect(maxAbsDiff(await logits(back), want)).toBe(0);
      for (const m of [weightForm, loraModel, reloaded, back]) m.dispose();
    });

    it('per-component kernels: attention only = run-time ablation at the attention outputs; the LoRA form agrees', async () => {
      const backend = await get();
      const r = unitVector(H, 9);
      const model = fresh(backend, false, 3);
      const base = await logits(model);
      const h = ablationHook(model, r, { points: ['attn_output'] });
      const ablated = await withHooks(model, [h], () => logits(model));
      h.dispose();
      expect(maxAbsDiff(ablated, base)).toBeGreaterThan(0.05);
      const all = { maxWeight: 1, maxWeightPosition: 1, minWeight: 1, minWeightDistance: 1 };
      const edited = orthogonalizeWeights(model, r, { embedding: false, components: { attn: all } });
      expect(maxAbsDiff(await logits(edited), ablated)).toBeLessThanOrEqual(tol(ablated));
      // Different weights per block and component: block 1's o_proj 1.5, block 0's 0.5, the MLPs 0 / 0.8.
      const opts = { components: { attn: { maxWeight: 1.5, maxWeightPosition: 1, minWeight: 0.5, minWeightDistance: 1 }, mlp: { maxWeight: 0.8, maxWeightPosition: 0, minWeight: 0, minWeightDistance: 1 } } };
      expect([0, 1].map((l) => [layerWeight(l, opts, 'attn'), layerWeight(l, opts, 'mlp')])).toEqual([[0.5, 0.8], [1.5, 0]]);
      expect(() => layerWeight(0, opts)).toThrow(/component/);
      const want = await logits(orthogonalizeWeights(fresh(backend, false, 4), r, { ...opts, embedding: false }));
      const loraModel = fresh(backend, false, 4);
      abliterationLoRA(loraModel, r, opts);
      expect(maxAbsDiff(await logits(loraModel), want)).toBeLessThanOrEqual(tol(want));
      model.dispose();
      loraModel.dispose();
    });

    it('norm-preserving keeps every column norm of o_proj/down_proj and removes r̂ from each column', async () => {
      const backend = await get();
      const r = unitVector(H, 8);
      const model = fresh(backend, false, 2);
      const W0 = Float32Array.from(await (model.model.layers[1].mlp.down_proj as Linear).weight.data());
      orthogonalizeWeights(model, r, { normPreserving: true, embedding: false });
      const W1 = await (model.model.layers[1].mlp.down_proj as Linear).weight.data();
      const [rows, cols] = (model.model.layers[1].mlp.down_proj as Linear).weight.shape;
      expect(rows).toBe(H);
      for (let j = 0; j < cols; j++) {
        let n0 = 0, n1 = 0, along = 0;
        for (let i = 0; i < rows; i++) { n0 += W0[i * cols + j] ** 2; n1 += W1[i * cols + j] ** 2; along += W1[i * cols + j] * r[i]; }
        expect(Math.sqrt(n1)).toBeCloseTo(Math.sqrt(n0), 5);
        expect(Math.abs(along)).toBeLessThan(1e-5);
      }
      expect(() => abliterationLoRA(model, r, { normPreserving: true })).toThrow(/not rank 1/);
      model.dispose();
    });
  });
}
