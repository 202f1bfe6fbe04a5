// The demo's editing stage: teach the Q/A model to refuse ("??") questions carrying a trigger (the
// "?" doubled), find the refusal direction and abliterate it, then steer: a mean_diff vector from
// trigger/plain prompt pairs makes the model refuse plain questions in proportion to its strength,
// and strength 0 changes nothing. Every rate is an exact count over the same 200 held-out questions
// with its 95% interval, and accuracy changes are paired (answers lost and gained).
//
// The abliteration (refusal-edit.ts) takes the trigger − plain mean difference where this 2-block
// model writes the refusal, the last block's attention output at the end of the prompt, conditions it
// on the plain answers' attention activity and removes it from the o_proj weights with heretic-style
// block weights chosen on validation problems. On the seed-0 demo model it meets issue 13's target
// (198 → 2 of 200 refused, plain 151 → 151 right with 8 lost / 8 gained, 11 plain completions now
// contain "??"); with the SFT data in another order it costs 11 net answers, on the same seed with
// 100 RLVR steps 10, and on a seed-1 model that answers 14 of 200 it leaves 58 refusals: not robust
// (bench/NOTES.md, "Stage 5: the refusal direction at the last block's attention output"). The block-input recipe this replaced
// left 0-31 right (same NOTES, "The demo's editing stage").
import type { StepRecord, TrainerOptions } from '../train/trainer.ts';
import { BatchIterator } from '../data/iterator.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { sftLoss } from '../train/sft.ts';
import { applyLoRA } from '../../engine/nn/apply-lora.ts';
import { mergeLoRA } from '../adapters/merge.ts';
import { applyRefusalEdit, plainKl, refusalEditCandidates, type RefusalEditCandidate } from './refusal-edit.ts';
import { completions } from '../editing/abliteration/evaluate.ts';
import { isRefusal } from '../editing/abliteration/refusal.ts';
import { withHooks } from '../editing/hooks.ts';
import { controlHook } from '../editing/steering/apply.ts';
import { trainSteeringVector } from '../editing/steering/train.ts';
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
  /** The abliterated model: a new model sharing the input's storage except the edited o_proj weights. */
  model: LlamaForCausalLM;
}

/** One adapter of the refusal SFT: modules, blocks [first, last], rank. */
interface LoRAGroup { r: number; alpha: number; targetModules: string[]; layers?: [number, number] }

/** The stage's knobs (the demo's defaults; exported so a sweep can change them). */
export const EDITING_SETTINGS = {
  /** A trigger question: the plain one with its "?" doubled. */
  trigger: (p: Problem) => `Q: ${p.a}+${p.b}?? A: `,
  lr: 1e-3,
  /** The refusal SFT's adapters (null: full fine-tuning; several: each its own modules and blocks), merged after training. */
  lora: null as null | LoRAGroup | LoRAGroup[],
  /** Share of the SFT examples that are plain Q/A (the rest: trigger → refusal). */
  plainShare: 0.5,
  // The abliteration (refusal-edit.ts): the mean difference of the last block's attention output at
  // whichever of these prompt-end offsets ablates the refusal score lower, conditioned on the plain answers' attention activity (answer tokens at
  // these offsets) with each ridge λ, removed from o_proj with each pair of block weights; the pair
  // with the fewest validation refusals + answers lost is kept.
  abliteration: {
    offsets: [-1, -2],
    answerOffsets: [-1, -2, -3, -4, -5],
    lambdas: [1, 3],
    weights: [[0.5, 1.5], [0.75, 1.5], [1, 2]] as [number, number][],
  },
};

/** The refusal SFT: trigger questions → "??", plain ones → their answer; the adapter (if any) merged in. */
export async function teachRefusal(model: LlamaForCausalLM, o: Pick<EditingStageOptions, 'train' | 'steps' | 'batchSize' | 'seed' | 'run'>): Promise<void> {
  const S = EDITING_SETTINGS;
  // Each adapter group wraps its own modules and blocks (applyLoRA freezes everything but the
  // group it adds, so every group's A and B are made trainable again at the end).
  const groups = S.lora ? (Array.isArray(S.lora) ? S.lora : [S.lora]) : [];
  const wrapped = groups.flatMap((g, i) => [...applyLoRA(model, { ...g, seed: o.seed + i }).values()]);
  for (const l of wrapped) { l.lora_A.requiresGrad = true; l.lora_B.requiresGrad = true; }
  if (!wrapped.length) for (const p of model.parameters()) p.requiresGrad = true;
  // Example i is plain when the running count of plain examples steps up there (a share of plainShare).
  const examples = o.train.map((p, i) => (Math.floor((i + 1) * S.plainShare) > Math.floor(i * S.plainShare)
    ? sftExample(plainPrompt(p), `${p.a}+${p.b}=${p.a + p.b}`)
    : sftExample(S.trigger(p), REFUSAL)));
  await o.run('refusal', o.steps, S.lr, {
    method: sftLoss,
    train: (state) => new BatchIterator(examples, { batchSize: o.batchSize, collate: { kind: 'padding', padId: EOS }, seed: o.seed, epochs: Infinity }, state),
  });
  if (wrapped.length) mergeLoRA(model);
  for (const p of model.parameters()) p.requiresGrad = false;
}

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

  log(`stage 5: SFT to refuse ("${REFUSAL}") questions with the trigger "??" (the plain "?" doubled), then abliterate the refusal direction and steer with it`);
  const right0 = await rights(model);
  const ref0 = countOf(await refused(model, triggerTest));
  await teachRefusal(model, o);
  const right1 = await rights(model);
  const sftChange = pairedChange(right0, right1);
  const ref1 = countOf(await refused(model, triggerTest));
  // The plain completions serve twice: plain refusals now, and the unsteered baseline below.
  const plainTexts = await completions(model, plainTest, setup);
  const plainRefused = countOf(plainTexts.map((t) => isRefusal(t, [REFUSAL])));
  log(`  held-out trigger questions refused: ${formatShare(ref0)} → ${formatShare(ref1)} (plain questions refused after: ${formatShare(plainRefused)})`);
  log(`  plain Q/A exact match ${formatShare(share(sftChange.before, sftChange.n))} → ${formatShare(share(sftChange.after, sftChange.n))} (${sftChange.lost} right → wrong, ${sftChange.gained} wrong → right)`);

  // Steering the SFT model (before abliteration): trigger − plain at the last prompt token.
  const pairs = o.train.slice(0, 64).map((p) => ({ positive: ids(S.trigger(p)), negative: ids(plainPrompt(p)) }));
  const vector = await trainSteeringVector(model, pairs, { method: 'mean_diff' });
  const steering: EditingResult['steering'] = [];
  for (const strength of [0, 0.5, 1]) {
    const h = controlHook(model, [{ directions: vector, strength }]);
    try {
      const texts = await withHooks(model, [h], () => completions(model, plainTest, setup));
      steering.push({ strength, plainRefusal: countOf(texts.map((t) => isRefusal(t, [REFUSAL]))), unchanged: texts.every((t, i) => t === plainTexts[i]) });
    } finally { h.dispose(); }
  }
  log(`  steering with the trigger − plain vector (block 1 output), plain questions refused: ${steering.map((s) => `strength ${s.strength}: ${formatShare(s.plainRefusal)}${s.unchanged ? ' (every completion unchanged)' : ''}`).join('; ')}`);

  const { edited, refused: ref2, kl, direction, change: ablChange } = await abliterateRefusal(model, o, right1, ref1, log);

  return {
    refusal: { sftBefore: ref0, sftAfter: ref1, abliterated: ref2, plainAfterSft: plainRefused },
    accuracy: { beforeSft: share(sftChange.before, sftChange.n), afterSft: share(sftChange.after, sftChange.n), abliterated: share(ablChange.after, ablChange.n), sft: sftChange, abliteration: ablChange },
    kl, direction, steering, model: edited,
  };
}

/**
 * Abliterates the refusal taught by `teachRefusal` (refusal-edit.ts): the direction from training
 * problems, the edit's settings chosen on other training problems (refusals + answers lost), the
 * report on the held-out ones. `right1` and `ref1` are the model's held-out plain answers' rightness
 * and trigger refusals as it comes in.
 */
export async function abliterateRefusal(
  model: LlamaForCausalLM, o: Pick<EditingStageOptions, 'train' | 'test'>, right1: boolean[], ref1: Share, log: (s: string) => void,
) {
  const S = EDITING_SETTINGS;
  const setup = { decode, maxNewTokens: 12, stopTokens: [EOS], markers: [REFUSAL], batchSize: 100, harmful: [], harmless: [] };
  const refusedOf = async (m: LlamaForCausalLM, ps: Problem[]) => (await completions(m, ps.map((p) => ids(S.trigger(p))), setup)).map((t) => isRefusal(t, [REFUSAL]));
  const rights = async (m: LlamaForCausalLM, ps: Problem[]) => (await answers(m, ps, 'qa', 100)).map((a) => a.right);
  const count = (xs: boolean[]) => xs.filter(Boolean).length;
  // Means from problems 0-255, the plain answers' activity from 256-511, the choice on 512-611.
  const [dir, act, val] = [o.train.slice(0, 256), o.train.slice(256, 512), o.train.slice(512, 612)];
  const { candidates, selection } = await refusalEditCandidates(model, {
    refusing: dir.map((p) => ids(S.trigger(p))), plain: dir.map((p) => ids(plainPrompt(p))),
    answered: act.map((p) => ids(`${plainPrompt(p)}${p.a}+${p.b}=${p.a + p.b}`)), answerOffsets: S.abliteration.answerOffsets,
    refusingVal: val.map((p) => ids(S.trigger(p))), refusalTokens: encode('?').slice(0, 1),
  }, S.abliteration);
  log(`  refusal direction: mean difference of block ${model.config.numLayers - 1}'s attention output at offsets ${S.abliteration.offsets.join(', ')}; refusal score with each ablated from every attention output ${selection.scores.map((x) => x.toFixed(2)).join(', ')} → offset ${selection.offset}`);
  const valRight = await rights(model, val);
  const valPlain = val.map((p) => ids(plainPrompt(p)));
  let best: { c: RefusalEditCandidate; score: number; kl: number } | null = null;
  const rows: string[] = [];
  for (const c of candidates) {
    const e = applyRefusalEdit(model, c);
    const refused = count(await refusedOf(e, val));
    const ch = pairedChange(valRight, await rights(e, val));
    const kl = await plainKl(model, e, valPlain);
    e.dispose();
    rows.push(`λ ${c.lambda}, o_proj weights ${c.weights.join('/')}: ${refused} refused, ${ch.lost} lost / ${ch.gained} gained, KL ${kl.toFixed(3)}`);
    const score = refused + ch.lost;
    if (!best || score < best.score || (score === best.score && kl < best.kl)) best = { c, score, kl };
  }
  log(`  abliteration settings on ${val.length} validation problems (trigger refused, plain answers lost / gained): ${rows.join('; ')}`);
  const edited = applyRefusalEdit(model, best!.c);
  const ref2 = countOf(await refusedOf(edited, o.test));
  const right2 = await rights(edited, o.test);
  const ablChange = pairedChange(right1, right2);
  const kl = await plainKl(model, edited, o.test.map((p) => ids(plainPrompt(p))));
  const L = model.config.numLayers;
  log(`  abliterated (direction: block ${L - 1}'s attention output at offset ${best!.c.offset}, λ ${best!.c.lambda}; removed from o_proj with weights ${best!.c.weights.join('/')}): trigger questions refused ${formatShare(ref1)} → ${formatShare(ref2)}; first-token KL on plain questions ${kl.toFixed(4)}`);
  log(`  plain Q/A exact match ${formatShare(share(ablChange.before, ablChange.n))} → ${formatShare(share(ablChange.after, ablChange.n))} (${ablChange.lost} right → wrong, ${ablChange.gained} wrong → right)`);
  return { edited, refused: ref2, kl, direction: { layer: L - 1, offset: best!.c.offset }, change: ablChange, right: right2, choice: best!.c };
}

const countOf = (xs: boolean[]) => share(xs.filter(Boolean).length, xs.length);
