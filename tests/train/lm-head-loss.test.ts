// The training losses apply the lm_head in row chunks (lmHeadLogprobs) instead of materialising the
// [B·T, V] logits. Loss and every gradient must be what the full-logits formulation gives:
// cross-entropy (reduction 'sum', ignore −100) for SFT, sequenceLogprobs for the preference methods.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import * as w from '../../engine/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { padBatch } from '../../llm/data/collate.ts';
import { IGNORE_INDEX } from '../../llm/data/labels.ts';
import { hiddenSequenceLogprobs, sequenceLogprobs } from '../../llm/methods/logprobs.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { batchLabels, hiddenBatch } from '../../llm/train/forward.ts';
import { sftLoss, shiftedTargets } from '../../llm/train/sft.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

function tinyModel(backend: Backend, tied: boolean) {
  const model = new LlamaForCausalLM({
    hiddenSize: 8, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 4, intermediateSize: 12, vocabSize: 11,
    ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: tied, attentionBias: false, maxPositions: 16, eosTokenIds: [1],
  }, { backend });
  randomInit(model, 3, 0.5);
  for (const p of model.parameters()) p.requiresGrad = true;
  return model;
}

// Two rows of different length (padding), prompts masked with −100.
const batch = padBatch([
  { inputIds: [2, 5, 7, 3, 9, 4], labels: [IGNORE_INDEX, IGNORE_INDEX, 7, 3, 9, 4] },
  { inputIds: [2, 8, 6, 10], labels: [IGNORE_INDEX, 8, 6, 10] },
], { padId: 0 });

/** loss(), then every parameter's gradient, read back; grads are zeroed before and after. */
async function lossAndGrads(model: LlamaForCausalLM, loss: () => Tensor): Promise<{ loss: number; grads: number[][] }> {
  for (const p of model.parameters()) p.zeroGrad();
  const value = await w.tidy(() => {
    const l = loss();
    l.backward();
    return l;
  }).item();
  const grads = await Promise.all(model.parameters().map(async (p) => Array.from(await p.grad!.data())));
  for (const p of model.parameters()) p.zeroGrad();
  return { loss: value, grads };
}

const fullLogits = (model: LlamaForCausalLM) => w.matmul(hiddenBatch(model, batch), model.headWeight, { transB: true });

for (const { name, get } of testBackends()) {
  describe(`chunked lm_head losses on ${name}`, () => {
    const tol = name === 'cpu-f64' ? { atol: 1e-12, rtol: 1e-10 } : { atol: 1e-5, rtol: 1e-4 };

    for (const tied of [true, false]) {
      it(`sftLoss equals cross-entropy over the full logits, loss and gradients (${tied ? 'tied' : 'separate'} lm_head)`, async () => {
        const backend = await get();
        const model = tinyModel(backend, tied);
        const [B, T] = batch.shape;
        const want = await lossAndGrads(model, () => w.crossEntropy(
          w.reshape(fullLogits(model), [B * T, 11]), w.tensor(shiftedTargets(batch), [B * T], { backend }),
          { ignoreIndex: IGNORE_INDEX, reduction: 'sum' },
        ));
        const got = await lossAndGrads(model, () => sftLoss(model, batch).lossSum);
        expect(sftLoss(model, batch).tokens).toBe(batch.lossTokens);
        allClose([got.loss], [want.loss], tol);
        got.grads.forEach((g, i) => allClose(g, want.grads[i], { ...tol, label: model.namedParameters()[i][0] }));
        model.dispose();
      });
    }

    it('hiddenSequenceLogprobs equals sequenceLogprobs of the full logits, values and gradients', async () => {
      const backend = await get();
      const model = tinyModel(backend, true);
      // Weights per sequence so each row's gradient counts differently.
      const weights = w.tensor([0.7, -1.3], [2], { backend });
      const seq = (f: () => { sum: Tensor; count: Tensor }) => () => {
        const r = f();
        return w.add(w.sum(w.mul(r.sum, weights)), w.sum(r.count));
      };
      const labels = () => batchLabels(model, batch);
      const want = await lossAndGrads(model, seq(() => sequenceLogprobs(fullLogits(model), labels())));
      const got = await lossAndGrads(model, seq(() => hiddenSequenceLogprobs(hiddenBatch(model, batch), model.headWeight, labels())));
      allClose([got.loss], [want.loss], tol);
      got.grads.forEach((g, i) => allClose(g, want.grads[i], { ...tol, label: model.namedParameters()[i][0] }));
      model.dispose();
    });
  });
}
