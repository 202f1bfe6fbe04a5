// wgrad demo: build a small Llama from scratch, teach it addition (full training), then teach it a
// question/answer format with LoRA, printing held-out exact-match accuracy before and after each
// stage. Writes metrics.jsonl per stage and the adapter in PEFT and mlx-lm formats.
import type { Backend } from '../../backends/backend.ts';
import { saveAdapter } from '../adapters/index.ts';
import { BatchIterator } from '../data/iterator.ts';
import { randomInit } from '../models/llama/init.ts';
import { LlamaForCausalLM } from '../models/llama/model.ts';
import { applyLoRA, trainableParameters } from '../nn/apply-lora.ts';
import { AdamW } from '../optim/adamw.ts';
import { sftLoss } from '../train/sft.ts';
import { Trainer, type StepRecord } from '../train/trainer.ts';
import { accuracy, example, problems, VOCAB_SIZE, EOS, type Format, type Problem } from './arithmetic.ts';

export interface DemoOptions {
  outputDir: string;
  backend: Backend;
  /** Operands are 0..maxOperand-1. */
  maxOperand?: number;
  pretrainSteps?: number;
  loraSteps?: number;
  batchSize?: number;
  seed?: number;
  log?: (s: string) => void;
  onStep?: (stage: string, r: StepRecord) => void;
}

export interface DemoResult {
  pretrain: { before: number; after: number };
  lora: { before: number; after: number; equationAfter: number };
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const log = o.log ?? (() => {});
  const seed = o.seed ?? 0;
  const { train, test } = problems(o.maxOperand ?? 50, 200, seed);
  const model = new LlamaForCausalLM({
    hiddenSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 24, intermediateSize: 256, vocabSize: VOCAB_SIZE,
    ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: true, attentionBias: false, maxPositions: 32, eosTokenIds: [EOS],
  }, { backend: o.backend });
  randomInit(model, seed);
  const batchSize = o.batchSize ?? 64;

  const stage = async (name: string, format: Format, steps: number, params: ReturnType<typeof trainableParameters>, lr: number) => {
    const examples = train.map((p: Problem) => example(p, format));
    const trainer = new Trainer({
      model, params, method: sftLoss, optimizer: new AdamW(params.map(([, p]) => p), { lr, weightDecay: 0 }),
      baseLr: lr, schedule: 'cosine', warmupSteps: Math.min(20, steps / 10), maxSteps: steps, maxGradNorm: 1,
      train: (state) => new BatchIterator(examples, { batchSize, collate: { kind: 'padding', padId: EOS }, seed, epochs: Infinity }, state),
      metricsPath: `${o.outputDir}/metrics-${name}.jsonl`,
      onStep: (r) => o.onStep?.(name, r),
    });
    await trainer.run();
    trainer.o.optimizer.dispose();
  };

  log(`stage 1: train a ${model.parameters().reduce((s, p) => s + p.size, 0)}-parameter Llama from scratch on ${train.length} sums "a+b=c" (held out: ${test.length})`);
  const pre0 = await accuracy(model, test, 'equation');
  for (const p of model.parameters()) p.requiresGrad = true;
  await stage('pretrain', 'equation', o.pretrainSteps ?? 300, trainableParameters(model), 3e-3);
  const pre1 = await accuracy(model, test, 'equation');
  log(`  held-out exact match: ${pct(pre0)} → ${pct(pre1)}`);

  log('stage 2: LoRA (r 16 on q/k/v/o; the MLP that does the sums stays as it was) to answer "Q: a+b? A: a+b=c"');
  const lora0 = await accuracy(model, test, 'qa');
  const lora = applyLoRA(model, { r: 16, alpha: 32, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], seed });
  await stage('lora', 'qa', o.loraSteps ?? 150, trainableParameters(model), 5e-3);
  const lora1 = await accuracy(model, test, 'qa');
  // With the adapter switched off the base model is untouched: its equations are as good as before.
  lora.forEach((l) => { l.enabled = false; });
  const eq1 = await accuracy(model, test, 'equation');
  lora.forEach((l) => { l.enabled = true; });
  log(`  held-out exact match on the Q/A format: ${pct(lora0)} → ${pct(lora1)} (adapter off, plain equations: ${pct(eq1)})`);
  await saveAdapter(model, `${o.outputDir}/adapter`, { format: 'peft', baseModel: 'wgrad-demo-arithmetic' });
  await saveAdapter(model, `${o.outputDir}/adapter-mlx`, { format: 'mlx', baseModel: 'wgrad-demo-arithmetic' });
  log(`wrote ${o.outputDir}/adapter (PEFT), ${o.outputDir}/adapter-mlx (mlx-lm), ${o.outputDir}/metrics-*.jsonl`);
  model.dispose();
  return { pretrain: { before: pre0, after: pre1 }, lora: { before: lora0, after: lora1, equationAfter: eq1 } };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
