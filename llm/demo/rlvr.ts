// The demo's RLVR stage: GRPO on the Q/A arithmetic model with one verifier, the built-in
// `accuracy` reward (the number the completion ends with against the true sum), through the same
// GrpoSource and method `wgrad train --method rlvr` uses. The previous stages' adapters are merged
// in; a fresh LoRA adapter is the policy.
import type { PromptExample } from '../data/prompts.ts';
import { applyLoRA } from '../../engine/nn/apply-lora.ts';
import { loraLayers } from '../adapters/layers.ts';
import { mergeLoRA } from '../adapters/merge.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import { loadRewardFunctions } from '../rewards/load.ts';
import { GrpoSource, grpoMethod, type GrpoSettings } from '../train/grpo.ts';
import type { TrainerOptions } from '../train/trainer.ts';
import { BOS, decode, encode, EOS, formats, type Problem } from './arithmetic.ts';

// Swept on the seed-0 model after DPO (bench/NOTES.md, "The demo's RLVR stage"): 16 prompts × 4
// samples per step (twice the other stages' batch) was the only setting that gained on all three
// sampling seeds tried (+4 to +6 of 200 held-out answers), where 4 prompts × 8 gained 0 and −4; within
// noise for one run, so the demo prints the paired counts. Temperature 1 or training on the model's
// greedy mistakes only lost 16 to 116 answers.
export const RLVR_SETTINGS: GrpoSettings = { numGenerations: 4, maxCompletionLength: 12, temperature: 0.6, lossType: 'dapo', beta: 0 };
/** Completions per step, as a multiple of the demo's batch size. */
export const RLVR_BATCH_FACTOR = 2;
export const RLVR_LORA = { r: 8, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };

/** The stage's settings in words, for the demo's log. */
export function describeRlvr(batch: number): string {
  const t = RLVR_LORA.targetModules.map((m) => m.replace('_proj', '')).join('/');
  return `LoRA r ${RLVR_LORA.r} on ${t}, ${RLVR_SETTINGS.numGenerations} samples per prompt at temperature ${RLVR_SETTINGS.temperature}, ${(batch * RLVR_BATCH_FACTOR) / RLVR_SETTINGS.numGenerations!} prompts per step`;
}

/** Trainer parts for the RLVR stage (the caller's `run` adds the optimizer and schedule). */
export async function rlvrStage(model: LlamaForCausalLM, train: Problem[], o: { seed: number; batchSize: number }): Promise<Pick<TrainerOptions, 'method' | 'units' | 'train'>> {
  if (loraLayers(model).size) mergeLoRA(model);
  const lora = applyLoRA(model, { ...RLVR_LORA, seed: o.seed });
  const prompts: PromptExample[] = train.map((p, i) => {
    const prompt = formats.qa(p).prompt;
    return { prompt, promptIds: [BOS, ...encode(prompt)], columns: { answer: String(p.a + p.b) }, location: `demo problem ${i + 1}` };
  });
  const rewards = await loadRewardFunctions(['accuracy'], { maxCompletionLength: RLVR_SETTINGS.maxCompletionLength! });
  const { method, units } = grpoMethod(RLVR_SETTINGS, rewards.length);
  return {
    method, units,
    train: (state) => new GrpoSource({
      model, tokenizer: { stopIds: [EOS], eosId: EOS, decode: (ids) => decode([...ids]) }, prompts, rewards, settings: RLVR_SETTINGS,
      batchSize: o.batchSize * RLVR_BATCH_FACTOR, gradAccum: 1, seed: o.seed, ref: null, setTraining: (on) => lora.forEach((l) => { l.training = on; }),
    }, state),
  };
}
