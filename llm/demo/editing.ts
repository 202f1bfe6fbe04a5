// The demo's editing stage: teach the Q/A model to refuse ("??") questions carrying a trigger (the
// "?" doubled), find the refusal direction and abliterate it, then steer: a mean_diff vector from
// trigger/plain prompt pairs makes the model refuse plain questions in proportion to its strength,
// and strength 0 changes nothing. Every rate is an exact count over the same 200 held-out questions
// with its 95% interval, and accuracy changes are paired (answers lost and gained).
//
// Issue 13's target (refusal ~100% → ~0 with plain accuracy within a point) is NOT met by any
// setting tried (bench/NOTES.md, "The demo's editing stage"): in this 2-block, 96-wide model the
// trigger − plain difference at block 1's input lies in the few directions the plain Q/A uses most
// (removing it from block 0's writes leaves 0-31 right of 105-142, a random direction moves the count by ≤ 4),
// and every variant that keeps the answers (directions with the plain activations' top principal
// subspace projected out, LoRA-only refusal SFT) also keeps most of the refusal.
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
 * Abliterates the refusal taught by `teachRefusal`: directions from training problems, selection on
 * others, the report on the held-out ones. `right1` and `ref1` are the model's held-out plain
 * answers' rightness and trigger refusals as it comes in.
 */
export async function abliterateRefusal(
  model: LlamaForCausalLM, o: Pick<EditingStageOptions, 'train' | 'test'>, right1: boolean[], ref1: Share, log: (s: string) => void,
) {
  const S = EDITING_SETTINGS;
  const rights = async (m: LlamaForCausalLM) => (await answers(m, o.test, 'qa', 100)).map((a) => a.right);
  // Directions from training problems; selection on others; the report on the held-out ones.
  const part = (from: number, n: number, f: (p: Problem) => string) => o.train.slice(from, from + n).map((p) => ids(f(p)));
  const prompts = {
    harmfulTrain: part(0, 128, S.trigger), harmlessTrain: part(0, 128, plainPrompt),
    harmfulVal: part(128, 32, S.trigger), harmlessVal: part(128, 32, plainPrompt),
    harmfulTest: o.test.map((p) => ids(S.trigger(p))), harmlessTest: o.test.map((p) => ids(plainPrompt(p))),
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
  const ref2 = share(Math.round(report.after.refusalRate * o.test.length), o.test.length);
  const right2 = await rights(edited);
  const ablChange = pairedChange(right1, right2);
  log(`  abliterated (direction at block ${report.direction.layer}'s input, position ${report.direction.offset}): trigger questions refused ${formatShare(ref1)} → ${formatShare(ref2)}; first-token KL on plain questions ${report.after.kl.toFixed(4)}`);
  log(`  plain Q/A exact match ${formatShare(share(ablChange.before, ablChange.n))} → ${formatShare(share(ablChange.after, ablChange.n))} (${ablChange.lost} right → wrong, ${ablChange.gained} wrong → right)`);
  return { edited, report, refused: ref2, kl: report.after.kl, direction: { layer: report.direction.layer, offset: report.direction.offset }, change: ablChange, right: right2 };
}

