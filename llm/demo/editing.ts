// The demo's editing stage: teach the Q/A model to refuse questions carrying a trigger ("??" instead
// of "?") with a short SFT, find the refusal direction and abliterate it (the refusal rate on held-out
// trigger questions falls while the plain Q/A accuracy stays), then steer: a mean_diff vector from
// trigger/plain prompt pairs makes the model refuse plain questions in proportion to its strength,
// and strength 0 changes nothing.
import type { StepRecord } from '../train/trainer.ts';
import { BatchIterator } from '../data/iterator.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { sftLoss } from '../train/sft.ts';
import type { TrainerOptions } from '../train/trainer.ts';
import { abliterate } from '../editing/abliteration/run.ts';
import { completions } from '../editing/abliteration/evaluate.ts';
import { refusalRate } from '../editing/abliteration/refusal.ts';
import { withHooks } from '../editing/hooks.ts';
import { controlHook } from '../editing/steering/apply.ts';
import { trainSteeringVector } from '../editing/steering/train.ts';
import { accuracy, BOS, decode, encode, EOS, type Problem } from './arithmetic.ts';
import type { TokenizedExample } from '../data/labels.ts';

/** The refusal the SFT teaches, and the substring that counts one. */
const REFUSAL = '??';
const triggerPrompt = (p: Problem) => EDITING_SETTINGS.trigger(p);
const plainPrompt = (p: Problem) => `Q: ${p.a}+${p.b}? A: `;
const ids = (s: string) => [BOS, ...encode(s)];

function sftExample(prompt: string, answer: string): TokenizedExample {
  const pr = ids(prompt), an = [...encode(answer), EOS];
  return { inputIds: [...pr, ...an], labels: [...pr.map(() => -100), ...an] };
}

export interface EditingStageOptions {
  model: LlamaForCausalLM;
  /** The model's held-out Q/A exact match on `test` as it comes in (the previous stage measured it). */
  accuracyBefore: number;
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
  refusal: { sftBefore: number; sftAfter: number; abliterated: number; plainAfterSft: number };
  accuracy: { beforeSft: number; afterSft: number; abliterated: number };
  kl: number;
  steering: { strength: number; plainRefusal: number }[];
  /** The abliterated model (the same object edited in place, or a new untied one when the embedding is edited too). */
  model: LlamaForCausalLM;
}

/** The stage's knobs (the demo's defaults; exported so a sweep can change them). */
export const EDITING_SETTINGS = {
  lr: 1e-3,
  /** A trigger question: the plain one with its "?" doubled. */
  trigger: (p: Problem) => `Q: ${p.a}+${p.b}?? A: `,
  // Weight edit: scale, the embedding too or not, and a per-block kernel.
  // The direction is read at block 1's input, which only the embedding and block 0 write: block 0's
  // o_proj/down_proj lose it (kernel: weight 1 at block 0, none elsewhere); the embedding keeps it
  // (the trigger's own token is what carries it there) and block 1's writes stay as they were.
  scale: 1, embedding: false,
  kernel: { maxWeight: 1, maxWeightPosition: 0, minWeight: 0, minWeightDistance: 0 } as undefined | { maxWeight: number; maxWeightPosition: number; minWeight: number; minWeightDistance: number },
  layer: undefined as undefined | number,
  /** Remove the plain prompts' mean from the direction (grimjim's biprojection). */
  biprojected: false,
  offsets: [-4, -3, -2, -1],
};

export async function editingStage(o: EditingStageOptions): Promise<EditingResult> {
  const { model, log } = o;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const heldOut = o.test.slice(0, 100);
  const setup = { decode, maxNewTokens: 12, stopTokens: [EOS], markers: [REFUSAL], batchSize: 64, harmful: [], harmless: [] };
  const refusals = async (m: LlamaForCausalLM, prompts: number[][]) => refusalRate(await completions(m, prompts, setup), [REFUSAL]);
  const triggerTest = heldOut.map((p) => ids(triggerPrompt(p)));
  const plainTest = heldOut.map((p) => ids(plainPrompt(p)));

  log(`stage 5: SFT to refuse ("${REFUSAL}") questions with the trigger "??" (the plain "?" doubled), then abliterate the refusal direction and steer with it`);
  const acc0 = o.accuracyBefore;
  const ref0 = await refusals(model, triggerTest);
  for (const p of model.parameters()) p.requiresGrad = true;
  const examples = o.train.flatMap((p, i) => (i % 2
    ? [sftExample(triggerPrompt(p), REFUSAL)]
    : [sftExample(plainPrompt(p), `${p.a}+${p.b}=${p.a + p.b}`)]));
  await o.run('refusal', o.steps, EDITING_SETTINGS.lr, {
    method: sftLoss,
    train: (state) => new BatchIterator(examples, { batchSize: o.batchSize, collate: { kind: 'padding', padId: EOS }, seed: o.seed, epochs: Infinity }, state),
  });
  for (const p of model.parameters()) p.requiresGrad = false;
  const acc1 = await accuracy(model, o.test, 'qa');
  log(`  plain Q/A exact match ${pct(acc0)} → ${pct(acc1)}`);

  // Steering the SFT model (before abliteration): trigger − plain at the last prompt token.
  const pairs = o.train.slice(0, 64).map((p) => ({ positive: ids(triggerPrompt(p)), negative: ids(plainPrompt(p)) }));
  const vector = await trainSteeringVector(model, pairs, { method: 'mean_diff' });
  const steering: { strength: number; plainRefusal: number }[] = [];
  for (const strength of [0, 0.5, 1]) {
    const h = controlHook(model, [{ directions: vector, strength }]);
    try {
      steering.push({ strength, plainRefusal: await withHooks(model, [h], () => refusals(model, plainTest)) });
    } finally { h.dispose(); }
  }
  log(`  steering with the trigger − plain vector (block 1 output): plain questions refused at strength ${steering.map((s) => `${s.strength}: ${pct(s.plainRefusal)}`).join(', ')}`);

  // Directions from training problems; selection on others; the report on the held-out ones.
  const part = (from: number, n: number, f: (p: Problem) => string) => o.train.slice(from, from + n).map((p) => ids(f(p)));
  const prompts = {
    harmfulTrain: part(0, 128, triggerPrompt), harmlessTrain: part(0, 128, plainPrompt),
    harmfulVal: part(128, 32, triggerPrompt), harmlessVal: part(128, 32, plainPrompt),
    harmfulTest: triggerTest, harmlessTest: plainTest,
  };
  // The post-instruction tokens " A: "; both blocks are candidates in a 2-block model (block 0's
  // input, the embedding, is the same at those tokens with and without the trigger, so its
  // candidates are zero and skipped). If the KL filter leaves none (an undertrained model in a
  // short run), block 1 is forced.
  const settings = {
    offsets: EDITING_SETTINGS.offsets, scale: EDITING_SETTINGS.scale, embedding: EDITING_SETTINGS.embedding, kernel: EDITING_SETTINGS.kernel, layer: EDITING_SETTINGS.layer, biprojected: EDITING_SETTINGS.biprojected, refusalTokens: encode('?').slice(0, 1), pruneLayerFraction: 0, markers: [REFUSAL],
    maxNewTokens: 12, stopTokens: [EOS], batchSize: 64, samples: 0,
  };
  const { model: edited, report } = await abliterate(model, prompts, settings, { decode }).catch((e: Error) => {
    if (!/every candidate direction was filtered out/.test(e.message)) throw e;
    log(`  (${e.message.replace(/;.*/, '')}; forcing block 1)`);
    return abliterate(model, prompts, { ...settings, layer: 1 }, { decode });
  });
  const ref1 = report.before.refusalRate;
  log(`  held-out trigger questions refused: ${pct(ref0)} before the SFT, ${pct(ref1)} after`);
  const acc2 = await accuracy(edited, o.test, 'qa');
  log(`  abliterated (block ${report.direction.layer} input, position ${report.direction.offset}): trigger questions refused ${pct(ref1)} → ${pct(report.after.refusalRate)}; first-token KL on plain questions ${report.after.kl.toFixed(4)}; plain Q/A exact match ${pct(acc1)} → ${pct(acc2)}`);

  return {
    // Strength 0 is the SFT model itself (the hook adds nothing), so its rate is the plain one.
    refusal: { sftBefore: ref0, sftAfter: ref1, abliterated: report.after.refusalRate, plainAfterSft: steering[0].plainRefusal },
    accuracy: { beforeSft: acc0, afterSft: acc1, abliterated: acc2 }, kl: report.after.kl, steering, model: edited,
  };
}
