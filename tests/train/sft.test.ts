// LoRA SFT on a real model and dataset: the held-out loss falls, metrics and checkpoints are
// written, and a run killed after a checkpoint resumes to the same adapter as an uninterrupted run.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining, type TrainSettings } from '../../llm/train/run.ts';
import { Trainer } from '../../llm/train/trainer.ts';
import type { MethodOutput } from '../../llm/train/sft.ts';
import { BatchIterator } from '../../llm/data/iterator.ts';
import { SGD } from '../../engine/optim/sgd.ts';
import * as w from '../../engine/index.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(MODEL, DATA);
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-sft-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = (outputDir?: string): TrainSettings => ({
  data: asset(DATA), valFraction: 0.1, maxSteps: 8, batchSize: 2, gradAccum: 2, learningRate: 3e-3, schedule: 'cosine',
  warmupSteps: 1, seed: 1, maxLength: 160, lora: { r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
  evalEvery: 4, saveEvery: 3, outputDir,
});

async function setup() {
  const backend = createCpuBackend();
  const tok = await loadTokenizer(asset(`${MODEL}/tokenizer.json`));
  const { model } = await loadLlama(asset(MODEL), { backend });
  return { backend, tok, model };
}

async function adapterValues(lora: NonNullable<Awaited<ReturnType<typeof runTraining>>['lora']>) {
  const out: number[] = [];
  for (const l of lora.values()) out.push(...await l.lora_A.data(), ...await l.lora_B.data());
  return out;
}

describe.skipIf(!ok)('LoRA SFT on stories260K with alpaca_tiny', () => {
  it('lowers the held-out loss and writes metrics and checkpoints', async () => {
    const { tok, model } = await setup();
    const before = await (async () => {
      const r = await runTraining(model, tok, { ...base(), maxSteps: 0 });
      return r.evalLoss!;
    })();
    const { model: m2 } = await setup();
    const dir = join(tmp, 'run');
    const r = await runTraining(m2, tok, base(dir));
    expect(r.records.length).toBe(8);
    expect(r.evalLoss!).toBeLessThan(before - 0.05);
    const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.filter((m) => 'loss' in m).map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(metrics.filter((m) => 'eval_loss' in m).length).toBeGreaterThanOrEqual(2);
    for (const k of ['loss', 'lr', 'grad_norm', 'tokens_per_second']) expect(Number.isFinite(metrics[0][k]), k).toBe(true);
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual(['step-0000003', 'step-0000006', 'step-0000008']);
  }, 120_000);

  it('kill after a checkpoint and --resume gives the same adapter as an uninterrupted run', async () => {
    const a = await setup();
    const full = await runTraining(a.model, a.tok, base(join(tmp, 'full')));
    const b = await setup();
    const dir = join(tmp, 'killed');
    // The process dies during step 7, after the step-6 checkpoint was written.
    const kill = (r: { step: number }) => { if (r.step === 7) throw new Error('killed'); };
    await expect(runTraining(b.model, b.tok, base(dir), { onStep: kill })).rejects.toThrow('killed');
    const c = await setup();
    const resumed = await runTraining(c.model, c.tok, { ...base(dir), resume: true });
    expect(resumed.records[0].step).toBe(7);
    expect(await adapterValues(resumed.lora!)).toEqual(await adapterValues(full.lora!));
  }, 180_000);
});

describe('trainer guards', () => {
  it('a non-finite loss stops the run naming the step and the intact checkpoint', async () => {
    const backend = createCpuBackend();
    const p = w.tensor([1, 2], [2], { backend });
    p.requiresGrad = true;
    const examples = [{ inputIds: [1, 2, 3], labels: [-100, 2, 3] }];
    const trainer: Trainer = new Trainer({
      model: null as never, params: [['p', p]], optimizer: new SGD([p], { lr: 0.1 }), baseLr: 0.1, maxSteps: 5,
      // log(p − 1.5·step): the second step takes log of a negative number.
      method: (): MethodOutput => ({ lossSum: w.sum(w.log(w.sub(p, 0.75 * (trainer.step + 1)))), tokens: 2 }),
      train: (state) => new BatchIterator(examples, { batchSize: 1, collate: { kind: 'padding', padId: 0 }, epochs: Infinity }, state),
      checkpoints: { dir: join(tmp, 'nan'), every: 1 },
    });
    await expect(trainer.run()).rejects.toThrow(/trainer: loss is NaN \(grad norm .*\) at step 2; lower the learning rate or check the data; the last checkpoint in .*nan.* is intact/);
  });
});
