// The demo's editing stage: teach the Q/A model to refuse ("??") questions carrying a trigger, find
// the refusal direction and abliterate it (the refusal rate on held-out trigger questions falls while
// the plain Q/A answers stay as they were), then steer: a mean_diff vector from trigger/plain prompt
// pairs makes the model refuse plain questions in proportion to its strength, and strength 0 changes
// nothing.
//
// Why it is built this way (bench/NOTES.md, "The demo's editing stage"): in a 2-block model the
// refusal must be a feature of its own, not a rearrangement of the answer's. The trigger is the
// first word ("A: 12+34? A: " against "Q: 12+34? A: "), so trigger and plain prompts of the same
// question have the same length and positions and differ in one token; the refusal is taught as a
// LoRA on block 0's attention only (it reads the trigger and writes "refuse" into the last prompt
// token's stream) with plain Q/A mixed in; the direction is the mean difference of the SAME questions
// with and without the trigger at block 1's input; only block 0 (the block that writes it) loses it.
import type { StepRecord, TrainerOptions } from '../train/trainer.ts';
import { BatchIterator } from '../data/iterator.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { sftLoss } from '../train/sft.ts';
import { applyLoRA } from '../../engine/nn/apply-lora.ts';
import { mergeLoRA } from '../adapters/merge.ts';
import { abliterate } from '../editing/abliteration/run.ts';
import { completions } from '../editing/abliteration/evaluate.ts';
import { isRefusal } from '../editing/abliteration/refusal.ts';
import { withHooks } from '../editing/hooks.ts';
import { controlHook } from '../editing/steering/apply.ts';
import { trainSteeringVector } from '../editing/steering/train.ts';
import type { LayerKernel } from '../editing/abliteration/weights.ts';
import { answers, BOS, decode, encode, EOS, type Problem } from './arithmetic.ts';
import { formatShare, pairedChange, share, type PairedChange, type Share } from './counts.ts';
import type { TokenizedExample } from '../data/labels.ts';

/** The refusal the SFT teaches, and the substring that counts one. */
const REFUSAL = '??';
const plainPrompt = (p: Problem) => `Q: ${p.a}+${p.b}? A: `;
const ids = (s: string) => [BOS, ...encode(s)];

function sftExample(prompt: string, answer: string): TokenizedExample {
  const pr = ids(prompt), an = [...encode(answer), EOS];
  return { inputIds: [...pr, ...an], labels: [...pr.map(() => -100), ...an] };
}

export interface EditingStageOptions {
  model: LlamaForCausalLM;
  train: Problem[];
  test: Problem[];
  steps: number;
  batchSize: number;
  seed: number;
  /** The pipeline's trainer runner (metrics file, schedule, logging). */
  run: (name: string, steps: number, lr: number, parts: Pick<TrainerOptions, 'method' | 'train' | 'units'>) => Promise<void>;
  log: (s: string) => void;
  onStep?: (stage: string, r: StepRecord) => void;
}

export interface EditingResult {
  /** Held-out trigger questions refused, and plain ones refused after the SFT. */
  refusal: { sftBefore: Share; sftAfter: Share; abliterated: Share; plainAfterSft: Share };
  /** Held-out plain Q/A exact match, and the answers each edit changed (same questions). */
  accuracy: { beforeSft: Share; afterSft: Share; abliterated: Share; sft: PairedChange; abliteration: PairedChange };
  kl: number;
  direction: { layer: number; offset: number };
  /** Plain questions refused with the trigger − plain vector added; `unchanged`: every completion as without the hook. */
  steering: { strength: number; plainRefusal: Share; unchanged: boolean }[];
  /** The abliterated model (the same object edited in place, or a new untied one when the embedding is edited too). */
  model: LlamaForCausalLM;
}

/** The stage's knobs (the demo's defaults; exported so a sweep can change them). */
export const EDITING_SETTINGS = {
  /** A trigger question: the plain one with its first word "Q" replaced by "A" (same length). */
  trigger: (p: Problem) => `A: ${p.a}+${p.b}? A: `,
  lr: 5e-3,
  /** The refusal SFT's adapter (null: full fine-tuning); merged into the model after training. */
  lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], layers: [0, 0] as [number, number] } as null | { r: number; alpha: number; targetModules: string[]; layers?: [number, number] },
  /** Share of the SFT examples that are plain Q/A (the rest: trigger → refusal). */
  plainShare: 0.5,
  // The direction: block 1's input (block 0's output) at these post-instruction offsets.
  offsets: [-4, -3, -2, -1],
  layer: undefined as undefined | number,
  /** Remove the plain prompts' mean from the direction (grimjim's biprojection). */
  biprojected: false,
  normPreserving: false,
  // Weight edit: block 0's o_proj/down_proj only (the writers of the direction at block 1's input);
  // the embedding keeps it (the trigger token is the same there with and without the edit).
  scale: 1, embedding: false,
  kernel: { maxWeight: 1, maxWeightPosition: 0, minWeight: 0, minWeightDistance: 0 } as undefined | LayerKernel,
};

export async function editingStage(o: EditingStageOptions): Promise<EditingResult> {
  const { model, log } = o;
  const S = EDITING_SETTINGS;
  const setup = { decode, maxNewTokens: 12, stopTokens: [EOS], markers: [REFUSAL], batchSize: 100, harmful: [], harmless: [] };
  const refused = async (m: LlamaForCausalLM, prompts: number[][]) => (await completions(m, prompts, setup)).map((t) => isRefusal(t, [REFUSAL]));
  const countOf = (xs: boolean[]) => share(xs.filter(Boolean).length, xs.length);
  const rights = async (m: LlamaForCausalLM) => (await answers(m, o.test, 'qa', 100)).map((a) => a.right);
  // Held out: the same questions, plain and with the trigger.
  const triggerTest = o.test.map((p) => ids(S.trigger(p)));
  const plainTest = o.test.map((p) => ids(plainPrompt(p)));

  log(`stage 5: SFT to refuse ("${REFUSAL}") questions whose first word is "A" instead of "Q", then abliterate the refusal direction and steer with it`);
  const right0 = await rights(model);
  const ref0 = countOf(await refused(model, triggerTest));
  const lora = S.lora ? applyLoRA(model, { ...S.lora, seed: o.seed }) : null;
  if (!lora) for (const p of model.parameters()) p.requiresGrad = true;
  const plainEvery = S.plainShare > 0 ? Math.max(1, Math.round(1 / S.plainShare)) : Infinity;
  const examples = o.train.map((p, i) => (i % plainEvery === 0
    ? sftExample(plainPrompt(p), `${p.a}+${p.b}=${p.a + p.b}`)
    : sftExample(S.trigger(p), REFUSAL)));
  await o.run('refusal', o.steps, S.lr, {
    method: sftLoss,
    train: (state) => new BatchIterator(examples, { batchSize: o.batchSize, collate: { kind: 'padding', padId: EOS }, seed: o.seed, epochs: Infinity }, state),
  });
  if (lora) mergeLoRA(model);
  for (const p of model.parameters()) p.requiresGrad = false;
  const right1 = await rights(model);
  const sftChange = pairedChange(right0, right1);
  const ref1 = countOf(await refused(model, triggerTest));
  const plainRefused = countOf(await refused(model, plainTest));
  log(`  held-out trigger questions refused: ${formatShare(ref0)} → ${formatShare(ref1)} (plain questions refused after: ${formatShare(plainRefused)})`);
  log(`  plain Q/A exact match ${formatShare(share(sftChange.before, sftChange.n))} → ${formatShare(share(sftChange.after, sftChange.n))} (${sftChange.lost} right → wrong, ${sftChange.gained} wrong → right)`);

  // Steering the SFT model (before abliteration): trigger − plain at the last prompt token.
  const pairs = o.train.slice(0, 64).map((p) => ({ positive: ids(S.trigger(p)), negative: ids(plainPrompt(p)) }));
  const vector = await trainSteeringVector(model, pairs, { method: 'mean_diff' });
  const plainTexts = await completions(model, plainTest, setup);
  const steering: EditingResult['steering'] = [];
  for (const strength of [0, 0.5, 1]) {
    const h = controlHook(model, [{ directions: vector, strength }]);
    try {
      const texts = await withHooks(model, [h], () => completions(model, plainTest, setup));
      steering.push({ strength, plainRefusal: countOf(texts.map((t) => isRefusal(t, [REFUSAL]))), unchanged: texts.every((t, i) => t === plainTexts[i]) });
    } finally { h.dispose(); }
  }
  log(`  steering with the trigger − plain vector (block 1 output), plain questions refused: ${steering.map((s) => `strength ${s.strength}: ${formatShare(s.plainRefusal)}${s.unchanged ? ' (every completion unchanged)' : ''}`).join('; ')}`);

  // Directions from training problems; selection on others; the report on the held-out ones.
  const part = (from: number, n: number, f: (p: Problem) => string) => o.train.slice(from, from + n).map((p) => ids(f(p)));
  const prompts = {
    harmfulTrain: part(0, 128, S.trigger), harmlessTrain: part(0, 128, plainPrompt),
    harmfulVal: part(128, 32, S.trigger), harmlessVal: part(128, 32, plainPrompt),
    harmfulTest: triggerTest, harmlessTest: plainTest,
  };
  // Block 0's input is the embedding, the same at the post-instruction tokens with and without the
  // trigger, so its candidates are zero and skipped; if the KL filter leaves none, block 1 is forced.
  const settings = {
    offsets: S.offsets, scale: S.scale, embedding: S.embedding, kernel: S.kernel, layer: S.layer, biprojected: S.biprojected, normPreserving: S.normPreserving,
    refusalTokens: encode('?').slice(0, 1), pruneLayerFraction: 0, markers: [REFUSAL], maxNewTokens: 12, stopTokens: [EOS], batchSize: 100, samples: 0,
  };
  const { model: edited, report } = await abliterate(model, prompts, settings, { decode }).catch((e: Error) => {
    if (!/every candidate direction was filtered out/.test(e.message)) throw e;
    log(`  (${e.message.replace(/;.*/, '')}; forcing block 1)`);
    return abliterate(model, prompts, { ...settings, layer: 1 }, { decode });
  });
  const ref2 = share(Math.round(report.after.refusalRate * triggerTest.length), triggerTest.length);
  const right2 = await rights(edited);
  const ablChange = pairedChange(right1, right2);
  log(`  abliterated (direction at block ${report.direction.layer}'s input, position ${report.direction.offset}): trigger questions refused ${formatShare(ref1)} → ${formatShare(ref2)}; first-token KL on plain questions ${report.after.kl.toFixed(4)}`);
  log(`  plain Q/A exact match ${formatShare(share(ablChange.before, ablChange.n))} → ${formatShare(share(ablChange.after, ablChange.n))} (${ablChange.lost} right → wrong, ${ablChange.gained} wrong → right)`);

  return {
    refusal: { sftBefore: ref0, sftAfter: ref1, abliterated: ref2, plainAfterSft: plainRefused },
    accuracy: { beforeSft: share(sftChange.before, sftChange.n), afterSft: share(sftChange.after, sftChange.n), abliterated: share(ablChange.after, ablChange.n), sft: sftChange, abliteration: ablChange },
    kl: report.after.kl, direction: { layer: report.direction.layer, offset: report.direction.offset }, steering, model: edited,
  };
}
