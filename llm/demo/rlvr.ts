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

// Swept on the seed-0 model after DPO (bench/NOTES.md, "The demo's RLVR stage"): no setting within
// the demo's time budget moved held-out accuracy beyond the run-to-run churn, so these stay as they were.
export const RLVR_SETTINGS: GrpoSettings = { numGenerations: 8, maxCompletionLength: 12, temperature: 0.6, lossType: 'dapo', beta: 0 };
export const RLVR_LORA = { r: 8, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };

/** The stage's settings in words, for the demo's log. */
export function describeRlvr(): string {
  const t = RLVR_LORA.targetModules.map((m) => m.replace('_proj', '')).join('/');
  return `LoRA r ${RLVR_LORA.r} on ${t}, ${RLVR_SETTINGS.numGenerations} samples per prompt at temperature ${RLVR_SETTINGS.temperature}`;
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
      batchSize: o.batchSize, gradAccum: 1, seed: o.seed, ref: null, setTraining: (on) => lora.forEach((l) => { l.training = on; }),
    }, state),
  };
}
