// GRPO's completion log-probs and entropies come from the chunked lm_head (lmHeadTokenStats, logits
// scaled by 1/temperature per chunk) instead of the [B, C, V] logits. They, the GRPO loss and every
// parameter gradient must equal the full-logits formulation TRL writes (logits / T → log_softmax →
// gather; entropy of softmax(logits / T)), composed here from model.forward and plain ops.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import * as w from '../../engine/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { grpoLoss } from '../../llm/methods/grpo.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { completionLogps, type GrpoBatch } from '../../llm/train/grpo.ts';
import { allClose } from '../core/harness.ts';
import { testBackends } from '../setup/backends.ts';

const IGN = -100, V = 11;

function tinyModel(backend: Backend, tied: boolean, vocabSize = V) {
  const model = new LlamaForCausalLM({
    hiddenSize: 8, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 4, intermediateSize: 12, vocabSize,
    ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: tied, attentionBias: false, maxPositions: 16, eosTokenIds: [1],
  }, { backend });
  randomInit(model, 5, 0.6);
  for (const p of model.parameters()) p.requiresGrad = true;
  return model;
}

/**
 * Three completions as GrpoSource lays them out: prompts left-padded to P = 3, completions right-padded
 * to C = 4 (targets −100 and mask 0 after each end; the second is masked as truncated).
 */
function grpoBatch(): GrpoBatch {
  const prompts = [[2, 5, 7], [3, 9], [4]], completions = [[6, 8, 1], [10, 2, 3, 5], [7, 1]];
  const P = 3, C = 4, pad = 0;
  const b: GrpoBatch = {
    kind: 'padded', shape: [3, P + C], inputIds: [], labels: [], attentionMask: [], positionIds: [], lossTokens: 0, examples: 3,
    grpo: { promptWidth: P, completionWidth: C, targets: [], mask: [], advantages: [0.9, -0.4, -1.1], oldLogps: null, refLogps: null, entropyMask: null, metrics: {} },
  };
  prompts.forEach((p, i) => {
    const c = completions[i], lp = P - p.length, rp = C - c.length;
    b.inputIds.push([...Array(lp).fill(pad), ...p, ...c, ...Array(rp).fill(pad)]);
    b.attentionMask.push([...Array(lp).fill(0), ...Array(p.length + c.length).fill(1), ...Array(rp).fill(0)]);
    b.positionIds.push([...Array(lp).fill(0), ...Array.from({ length: p.length + c.length }, (_, t) => t), ...Array(rp).fill(0)]);
    b.labels.push([...Array(P).fill(IGN), ...c, ...Array(rp).fill(IGN)]);
    b.grpo.targets.push([...c, ...Array(rp).fill(IGN)]);
    const m = [...Array(c.length).fill(i === 1 ? 0 : 1), ...Array(rp).fill(0)];
    b.grpo.mask.push(m);
    b.lossTokens += m.reduce((s, v) => s + v, 0);
  });
  return b;
}

/** TRL's _get_per_token_logps_and_entropies over the full logits. */
function fullLogitsReference(model: LlamaForCausalLM, batch: GrpoBatch, temperature: number) {
  const backend = model.backend;
  const [B, T] = batch.shape, { promptWidth: P, completionWidth: C } = batch.grpo;
  const ids = w.tensor(Int32Array.from(batch.inputIds.flat()), [B, T], { dtype: 'i32', backend });
  const logits = w.div(w.narrow(model.forward(ids, { positions: batch.positionIds, segments: batch.attentionMask }), 1, P - 1, C), temperature);
  const targets = w.tensor(Int32Array.from(batch.grpo.targets.flat()), [B, C], { dtype: 'i32', backend });
  const logps = w.tokenLogprobs(logits, targets, { ignoreIndex: IGN });
  const entropies = w.noGrad(() => w.neg(w.sum(w.mul(w.softmax(logits, -1), w.logSoftmax(logits, -1)), -1)));
  return { logps, entropies };
}

for (const { name, get } of testBackends()) {
  describe(`GRPO completion log-probs through the chunked lm_head on ${name}`, () => {
    const tol = name === 'cpu-f64' ? { atol: 1e-12, rtol: 1e-10 } : { atol: 2e-5, rtol: 1e-4 };

    for (const [tied, temperature, chunkRows] of [[true, 1, undefined], [false, 0.7, 2], [true, 1.3, 5]] as const) {
      it(`log-probs, entropies, loss and gradients equal the full-logits path (T = ${temperature}, ${tied ? 'tied' : 'separate'} head, chunk ${chunkRows ?? 'default'})`, async () => {
        const backend = await get();
        const model = tinyModel(backend, tied);
        const batch = grpoBatch();
        const [B, C] = [3, batch.grpo.completionWidth];
        const lossOf = (r: { logps: Tensor; entropies: Tensor | null }) => grpoLoss({
          logps: r.logps, advantages: w.tensor(batch.grpo.advantages, [B], { backend }), mask: w.tensor(batch.grpo.mask.flat(), [B, C], { backend }),
          // Old log-probs off the current ones so the ratio (and its clipping) is not identically 1.
          oldLogps: w.tensor(batch.grpo.mask.flat().map((_, i) => -2.4 + 0.05 * i), [B, C], { backend }),
          entropies: r.entropies,
        }, { lossType: 'bnpo', epsilon: 0.2 });
        const run = async (f: () => { logps: Tensor; entropies: Tensor | null }) => {
          for (const p of model.parameters()) p.zeroGrad();
          const out = w.tidy(() => {
            const r = f();
            const l = lossOf(r);
            l.loss.backward();
            return [r.logps, r.entropies!, l.loss, l.metrics.entropy, l.metrics['clip_ratio/region_mean']];
          });
          const values = await Promise.all(out.map(async (t) => Array.from(await t.data())));
          const grads = await Promise.all(model.parameters().map(async (p) => Array.from(await p.grad!.data())));
          return { values, grads };
        };
        const want = await run(() => fullLogitsReference(model, batch, temperature));
        const got = await run(() => completionLogps(model, batch, temperature, true, chunkRows));
        // The masked-out positions' log-probs are 0 in both (target −100).
        expect(want.values[0].filter((v) => v === 0).length).toBe(3);
        ['logps', 'entropies', 'loss', 'entropy metric', 'clip region'].forEach((label, i) => allClose(got.values[i], want.values[i], { ...tol, label }));
        got.grads.forEach((g, i) => allClose(g, want.grads[i], { ...tol, label: model.namedParameters()[i][0] }));
        expect(want.grads.some((g) => g.some((v) => Math.abs(v) > 1e-4))).toBe(true);
        model.dispose();
      });
    }

    it('without entropies only the log-probs are computed', async () => {
      const backend = await get();
      const model = tinyModel(backend, true);
      const r = w.noGrad(() => completionLogps(model, grpoBatch(), 1, false));
      expect(r.entropies).toBeNull();
      expect(r.logps.shape).toEqual([3, 4]);
      model.dispose();
    });
  });
}

describe('GRPO completion log-probs memory (cpu)', () => {
  it('peak memory of the loss forward and backward follows the chunk, not the [B, C, V] logits', () => {
    const vocab = 4000, batch = grpoBatch();
    const [B, T] = batch.shape, C = batch.grpo.completionWidth;
    const peak = (f: (m: LlamaForCausalLM) => { logps: Tensor; entropies: Tensor | null }) => {
      const backend = createCpuBackend();
      const model = tinyModel(backend, true, vocab);
      const before = backend.memoryStats().liveBytes;
      w.tidy(() => {
        const r = f(model);
        w.sum(w.mul(r.logps, w.tensor(batch.grpo.mask.flat(), [B, C], { backend }))).backward();
      });
      const bytes = backend.memoryStats().peakLiveBytes - before;
      model.dispose();
      return bytes;
    };
    const logits = B * C * vocab * 4;
    const whole = peak((m) => fullLogitsReference(m, batch, 0.7));
    const chunked = peak((m) => completionLogps(m, batch, 0.7, true, 2));
    console.log(`GRPO log-probs peak memory, V ${vocab}: full logits ${(whole / 1024).toFixed(0)} KiB, chunked (2 rows) ${(chunked / 1024).toFixed(0)} KiB`);
    // Full path: the [B, T, V] logits, their tempered copy and gradient; chunked: a few [2, V] buffers
    // beside the [V, D] embedding gradient both paths have.
    expect(whole).toBeGreaterThan(2 * logits);
    expect(chunked).toBeLessThan(whole - 1.5 * logits);
    expect(T).toBeGreaterThan(C);
  });
});

