// wgrad demo: build a small Llama from scratch, teach it addition (full training), teach it a
// question/answer format with LoRA, then DPO on pairs that prefer the right answer to the model's
// own wrong one, then RLVR (GRPO with the answer verifier, rlvr.ts), printing held-out exact-match
// accuracy before and after each stage. Writes metrics-<stage>.jsonl and the Q/A adapter in PEFT and mlx-lm formats.
import type { Backend } from '../../engine/index.ts';
import { saveAdapter } from '../adapters/index.ts';
import { BatchIterator } from '../data/iterator.ts';
import { randomInit } from '../models/llama/init.ts';
import { LlamaForCausalLM } from '../models/llama/model.ts';
import { applyLoRA, trainableParameters } from '../../engine/nn/apply-lora.ts';
import { AdamW } from '../../engine/optim/adamw.ts';
import { sftLoss } from '../train/sft.ts';
import { Trainer, type StepRecord, type TrainerOptions } from '../train/trainer.ts';
import { mergeLoRA } from '../adapters/merge.ts';
import { collatePreference, type PreferenceExample } from '../data/preference/collate.ts';
import { Generator } from '../../engine/random.ts';
import { preferenceMethod, preferenceUnits } from '../train/preference.ts';
import { adapterOffReference } from '../train/reference.ts';
import { describeRlvr, rlvrStage } from './rlvr.ts';
import { formatShare, pairedChange, share, type PairedChange } from './counts.ts';
import { editingStage, type EditingResult } from './editing.ts';
import { accuracy, answers, example, preferencePair, problems, VOCAB_SIZE, EOS, type Format, type Problem } from './arithmetic.ts';

export interface DemoOptions {
  outputDir: string;
  backend: Backend;
  /** Operands are 0..maxOperand-1. */
  maxOperand?: number;
  pretrainSteps?: number;
  loraSteps?: number;
  dpoSteps?: number;
  /** Training problems turned into preference pairs for the DPO stage. */
  dpoPairs?: number;
  /** RLVR stage steps (0: skip the stage). */
  rlvrSteps?: number;
  /** SFT steps of the editing stage (refusal, abliteration, steering); 0 skips it. */
  editingSteps?: number;
  /** Examples per batch (DPO: half as many pairs). */
  batchSize?: number;
  seed?: number;
  log?: (s: string) => void;
  onStep?: (stage: string, r: StepRecord) => void;
}

// Settings found by sweeping on this task (bench/NOTES.md, "The demo"): a 205k-parameter model
// reaches ~88% after 400 steps of 32; LoRA on attention learns to copy the operands into place in
// ~200 steps; DPO with a learning rate this size and the chosen answers' NLL (RPO) keeps what SFT
// learned, where plain DPO at the SFT rate dropped the Q/A accuracy to 0.
// The editing stage's refusal SFT needs 120 steps: 60 left 21% of trigger questions answered and cost
// 20 points of plain accuracy; 120 refuse 95.5% and keep it (bench/NOTES.md, "The demo's editing stage").
const DEFAULTS = { pretrainSteps: 400, loraSteps: 200, dpoSteps: 40, dpoPairs: 256, batchSize: 32, rlvrSteps: 50, editingSteps: 120 };
const LR = { pretrain: 3e-3, lora: 5e-3, dpo: 1e-3, rlvr: 2e-3 };
const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];

export interface DemoResult {
  pretrain: { before: number; after: number };
  lora: { before: number; after: number; equationAfter: number };
  dpo: { before: number; after: number; pairs: number; ownMistakes: number };
  /** change: right/wrong per held-out question before and after the stage (counts.ts). */
  rlvr: { before: number; after: number; change: PairedChange } | null;
  editing: Omit<EditingResult, 'model'> | null;
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
  const batchSize = o.batchSize ?? DEFAULTS.batchSize;

  const run = async (name: string, steps: number, lr: number, parts: Pick<TrainerOptions, 'method' | 'train' | 'units'>) => {
    const params = trainableParameters(model);
    const trainer = new Trainer({
      model, params, optimizer: new AdamW(params.map(([, p]) => p), { lr, weightDecay: 0 }),
      baseLr: lr, schedule: 'cosine', warmupSteps: Math.min(20, steps / 10), maxSteps: steps, maxGradNorm: 1,
      metricsPath: `${o.outputDir}/metrics-${name}.jsonl`, onStep: (r) => o.onStep?.(name, r), ...parts,
    });
    await trainer.run();
    trainer.o.optimizer.dispose();
  };
  const sft = (name: string, format: Format, steps: number, lr: number) => {
    const examples = train.map((p: Problem) => example(p, format));
    return run(name, steps, lr, {
      method: sftLoss,
      train: (state) => new BatchIterator(examples, { batchSize, collate: { kind: 'padding', padId: EOS }, seed, epochs: Infinity }, state),
    });
  };

  log(`stage 1: train a ${model.parameters().reduce((s, p) => s + p.size, 0)}-parameter Llama from scratch on ${train.length} sums "a+b=c" (held out: ${test.length})`);
  const pre0 = await accuracy(model, test, 'equation');
  for (const p of model.parameters()) p.requiresGrad = true;
  await sft('pretrain', 'equation', o.pretrainSteps ?? DEFAULTS.pretrainSteps, LR.pretrain);
  const pre1 = await accuracy(model, test, 'equation');
  log(`  held-out exact match: ${pct(pre0)} → ${pct(pre1)}`);

  log('stage 2: LoRA (r 16 on q/k/v/o; the MLP that does the sums stays as it was) to answer "Q: a+b? A: a+b=c"');
  const lora0 = await accuracy(model, test, 'qa');
  const lora = applyLoRA(model, { r: 16, alpha: 32, targetModules: ATTENTION, seed });
  await sft('lora', 'qa', o.loraSteps ?? DEFAULTS.loraSteps, LR.lora);
  const lora1 = await accuracy(model, test, 'qa');
  // With the adapter switched off the base model is untouched: its equations are as good as before.
  lora.forEach((l) => { l.enabled = false; });
  const eq1 = await accuracy(model, test, 'equation');
  lora.forEach((l) => { l.enabled = true; });
  log(`  held-out exact match on the Q/A format: ${pct(lora0)} → ${pct(lora1)} (adapter off, plain equations: ${pct(eq1)})`);
  await saveAdapter(model, `${o.outputDir}/adapter`, { format: 'peft', baseModel: 'wgrad-demo-arithmetic' });
  await saveAdapter(model, `${o.outputDir}/adapter-mlx`, { format: 'mlx', baseModel: 'wgrad-demo-arithmetic' });
  log(`  wrote ${o.outputDir}/adapter (PEFT) and ${o.outputDir}/adapter-mlx (mlx-lm)`);

  // Stage 3: the Q/A model (adapter merged in) is DPO's reference; a fresh adapter is the policy.
  mergeLoRA(model);
  const g = new Generator(seed + 1);
  const sample = train.slice(0, o.dpoPairs ?? DEFAULTS.dpoPairs);
  const own = await answers(model, sample, 'qa');
  const pairs: PreferenceExample[] = sample.map((p, i) => ({
    source: 'demo', row: i + 1, cite: 'row', format: 'prompt-chosen-rejected', ...preferencePair(p, own[i].right ? null : own[i].text, g),
  }));
  const mistakes = own.filter((a) => !a.right).length;
  log(`stage 3: DPO (LoRA r 8 on q/k/v/o, β 0.1, RPO α 1) on ${pairs.length} pairs preferring the right answer to a wrong one (${mistakes} of them the model's own mistakes)`);
  const dpoLora = applyLoRA(model, { r: 8, alpha: 16, targetModules: ATTENTION, seed });
  await run('dpo', o.dpoSteps ?? DEFAULTS.dpoSteps, LR.dpo, {
    method: preferenceMethod({ method: 'dpo', beta: 0.1, rpoAlpha: 1 }, adapterOffReference(model, dpoLora.values())),
    units: preferenceUnits('dpo'),
    train: (state) => new BatchIterator(pairs, {
      batchSize: Math.max(1, batchSize / 2), collate: (group: PreferenceExample[]) => collatePreference(group, { padId: EOS }), seed, epochs: Infinity,
    }, state),
  });
  const dpoRight = (await answers(model, test, 'qa')).map((a) => a.right);
  const dpo1 = dpoRight.filter(Boolean).length / test.length;
  log(`  held-out exact match on the Q/A format: ${pct(lora1)} → ${pct(dpo1)}`);
  let rlvr: DemoResult['rlvr'] = null;
  const rlvrSteps = o.rlvrSteps ?? DEFAULTS.rlvrSteps;
  if (rlvrSteps > 0) {
    log(`stage 4: RLVR (GRPO, ${describeRlvr(batchSize)}, reward: the verified sum) on the training problems`);
    await run('rlvr', rlvrSteps, LR.rlvr, await rlvrStage(model, train, { seed, batchSize }));
    const change = pairedChange(dpoRight, (await answers(model, test, 'qa')).map((a) => a.right));
    rlvr = { before: dpo1, after: change.after / test.length, change };
    // Paired counts: on 200 questions the stage's gain is only a gain if wrong → right clearly outnumbers right → wrong.
    log(`  held-out exact match on the Q/A format: ${formatShare(share(change.before, change.n))} → ${formatShare(share(change.after, change.n))} ` +
      `(${change.gained} wrong → right, ${change.lost} right → wrong)`);
  }
  const editSteps = o.editingSteps ?? DEFAULTS.editingSteps;
  const editing = editSteps > 0 ? await editingStage({ model: mergeLoRA(model), train, test, steps: editSteps, batchSize, seed, run, log }) : null;
  editing?.model.dispose();
  log(`wrote ${o.outputDir}/metrics-{pretrain,lora,dpo${rlvr ? ',rlvr' : ''}${editing ? ',refusal' : ''}}.jsonl`);
  model.dispose();
  return {
    pretrain: { before: pre0, after: pre1 }, lora: { before: lora0, after: lora1, equationAfter: eq1 },
    dpo: { before: lora1, after: dpo1, pairs: pairs.length, ownMistakes: mistakes }, rlvr,
    editing: editing && { refusal: editing.refusal, accuracy: editing.accuracy, kl: editing.kl, direction: editing.direction, steering: editing.steering },
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
