// Preference methods wired to the model and the trainer: chosen and rejected rows in one batch,
// the adapter-off and precomputed references, and DPO training that separates the pairs.
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { padBatch } from '../../llm/data/collate.ts';
import type { PreferenceBatch } from '../../llm/data/preference/collate.ts';
import type { TokenizedExample } from '../../llm/data/labels.ts';
import { sequenceLogprobs } from '../../llm/methods/logprobs.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { applyLoRA, trainableParameters } from '../../engine/nn/apply-lora.ts';
import { AdamW } from '../../engine/optim/adamw.ts';
import { batchLabels, hiddenBatch } from '../../llm/train/forward.ts';
import { matmul } from '../../engine/ops/index.ts';
import { preferenceMethod, preferenceUnits, type PreferenceMethod } from '../../llm/train/preference.ts';
import { adapterOffReference, precomputeReference } from '../../llm/train/reference.ts';
import { Trainer } from '../../llm/train/trainer.ts';
import { noGrad } from '../../engine/autodiff.ts';

/** [B, T, V] logits of a batch in one product: the unchunked path the training losses avoid. */
const fullLogits = (model: LlamaForCausalLM, b: Parameters<typeof hiddenBatch>[1]) => matmul(hiddenBatch(model, b), model.headWeight, { transB: true });

const backend = createCpuBackend({ precision: 'f64' });

function tinyModel(seed = 0) {
  const model = new LlamaForCausalLM({
    hiddenSize: 16, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 8, intermediateSize: 24, vocabSize: 12,
    ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: true, attentionBias: false, maxPositions: 32, eosTokenIds: [1],
  }, { backend });
  randomInit(model, seed, 0.3);
  const lora = applyLoRA(model, { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'o_proj'], seed });
  return { model, lora };
}

const ex = (prompt: number[], completion: number[]): TokenizedExample =>
  ({ inputIds: [...prompt, ...completion], labels: [...prompt.map(() => -100), ...completion] });

// Prompts of different lengths, completions of different lengths, so padding differs per row.
const pairs = [
  { prompt: [0, 3, 4], chosen: [5, 6, 1], rejected: [7, 1] },
  { prompt: [0, 8], chosen: [9, 1], rejected: [10, 11, 2, 1] },
  { prompt: [0, 2, 2, 5], chosen: [3, 1], rejected: [4, 1] },
];

function pairBatch(ps: typeof pairs): PreferenceBatch {
  const rows = [...ps.map((p) => ex(p.prompt, p.chosen)), ...ps.map((p) => ex(p.prompt, p.rejected))];
  return { ...padBatch(rows, { padId: 1 }), pairs: ps.length };
}

async function values(t: { data(): Promise<ArrayLike<number>> }) { return Array.from(await t.data()); }

describe('preference methods on a tiny Llama', () => {
  it('DPO at initialisation: policy = reference, so loss = ln 2 and every reward is 0', async () => {
    const { model, lora } = tinyModel();
    const step = preferenceMethod({ method: 'dpo' }, adapterOffReference(model, lora.values()));
    const out = noGrad(() => step(model, pairBatch(pairs)));
    expect((await values(out.lossSum))[0] / pairs.length).toBeCloseTo(Math.LN2, 12);
    for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies']) {
      expect((await values(out.metrics![k]))[0]).toBeCloseTo(0, 12);
    }
  });

  it('logps/chosen equals the log-probs of the chosen rows run on their own', async () => {
    const { model, lora } = tinyModel(1);
    // Make the adapter non-trivial so policy ≠ reference.
    for (const l of lora.values()) l.lora_B.assign(l.lora_B.add(0.3));
    const step = preferenceMethod({ method: 'dpo' }, adapterOffReference(model, lora.values()));
    const out = noGrad(() => step(model, pairBatch(pairs)));
    const alone = padBatch(pairs.map((p) => ex(p.prompt, p.chosen)), { padId: 1 });
    const lp = noGrad(() => sequenceLogprobs(fullLogits(model, alone), batchLabels(model, alone)).sum);
    const v = await values(lp);
    expect((await values(out.metrics!['logps/chosen']))[0]).toBeCloseTo(v.reduce((a, b) => a + b) / v.length, 10);
  });

  it('the precomputed reference serves what the adapter-off reference computes', async () => {
    const { model, lora } = tinyModel(2);
    for (const l of lora.values()) l.lora_B.assign(l.lora_B.add(0.2));
    const live = adapterOffReference(model, lora.values());
    const batch = pairBatch(pairs);
    const pre = await precomputeReference(live, [batch], backend);
    expect(pre.rows).toBe(6);
    expect(await values(pre.logps(pairBatch([pairs[1], pairs[2], pairs[0]])))).toEqual(
      await values(live.logps(pairBatch([pairs[1], pairs[2], pairs[0]]))));
    expect(() => pre.logps(pairBatch([{ prompt: [0], chosen: [2, 1], rejected: [3, 1] }]))).toThrow(/not in the precomputed data/);
  });

  it('DPO training raises rewards/margins and reaches rewards/accuracies 1 on its pairs', async () => {
    const { model, lora } = tinyModel(3);
    const params = trainableParameters(model);
    const trainer = new Trainer({
      model, params, method: preferenceMethod({ method: 'dpo', beta: 0.5 }, adapterOffReference(model, lora.values())),
      units: preferenceUnits('dpo'),
      optimizer: new AdamW(params.map(([, p]) => p), { lr: 0.05, weightDecay: 0 }), baseLr: 0.05, maxSteps: 12,
      // Every step sees all pairs in one batch.
      train: () => ({ next: () => pairBatch(pairs), state: () => ({ epoch: 0, index: 0, rngState: [], examples: 0 }) }),
    });
    const recs = await trainer.run();
    expect(recs[0]['rewards/margins']).toBeCloseTo(0, 10);
    expect(recs[recs.length - 1]['rewards/margins']!).toBeGreaterThan(0.5);
    expect(recs[recs.length - 1]['rewards/accuracies']).toBe(1);
    expect(recs[recs.length - 1].loss).toBeLessThan(Math.LN2);
  });

  for (const method of ['orpo', 'cpo', 'simpo'] as PreferenceMethod[]) {
    it(`${method}: runs without a reference, lossSum = loss × pairs, TRL metric names`, async () => {
      const { model } = tinyModel(4);
      const out = noGrad(() => preferenceMethod({ method }, null)(model, pairBatch(pairs)));
      const loss = (await values(out.lossSum))[0];
      expect(Number.isFinite(loss)).toBe(true);
      expect(Object.keys(out.metrics!)).toEqual(expect.arrayContaining(['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'nll_loss']));
    });
  }

  it('KTO at initialisation: z = 0 and every example loses 1 − σ(0) = 0.5; desirable and undesirable rows are told apart', async () => {
    const { model, lora } = tinyModel(5);
    const rows = pairs.map((p, i) => ex(p.prompt, i === 1 ? p.rejected : p.chosen));
    const kl = pairs.map((p, i) => ex(p.prompt, pairs[(i + 1) % pairs.length].chosen));
    const batch = { ...padBatch(rows, { padId: 1 }), desirable: [true, false, true], kl: padBatch(kl, { padId: 1 }) };
    const step = preferenceMethod({ method: 'kto' }, adapterOffReference(model, lora.values()));
    const out = noGrad(() => step(model, batch));
    expect((await values(out.lossSum))[0]).toBeCloseTo(1.5, 12);
    expect((await values(out.metrics!.kl))[0]).toBe(0);
    const lp = noGrad(() => sequenceLogprobs(fullLogits(model, batch), batchLabels(model, batch)).sum);
    const v = await values(lp);
    expect((await values(out.metrics!['logps/chosen']))[0]).toBeCloseTo((v[0] + v[2]) / 2, 10);
    expect((await values(out.metrics!['logps/rejected']))[0]).toBeCloseTo(v[1], 10);
  });

  it('dpo and kto refuse to run without a reference model', () => {
    expect(() => preferenceMethod({ method: 'dpo' }, null)).toThrow(/reference/);
    expect(() => preferenceMethod({ method: 'kto' }, null)).toThrow(/reference/);
  });
});
