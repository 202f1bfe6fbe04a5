// generate's steering flags: --control-vector FILE (repeatable; llama.cpp's name), --control-strength S
// (one for all, or one per vector), --control-layers A-B, --steer-after-prompt (CAA: generated tokens only).
import type { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import type { EditHook } from '../../llm/editing/hooks.ts';
import { controlHook } from '../../llm/editing/steering/apply.ts';
import { loadControlVector } from '../../llm/io/gguf.ts';
import { numberFlag, UsageError } from '../args.ts';
import { layerRange } from './model-files.ts';

export const controlFlags = {
  'control-vector': { type: 'string', multiple: true }, 'control-strength': { type: 'string', multiple: true },
  'control-layers': { type: 'string' }, 'steer-after-prompt': { type: 'boolean' },
} as const;

export const controlHelp = `  --control-vector FILE GGUF control vector added to block outputs (repeatable: vectors add)
  --control-strength S  its multiplier (one for all, or one per vector; default 1; negative
                        subtracts: --control-strength=-2)
  --control-layers A-B  steer only blocks A..B (inclusive)
  --steer-after-prompt  steer only the generated tokens (CAA), not the prompt`;

interface ControlValues { 'control-vector'?: string[]; 'control-strength'?: string[]; 'control-layers'?: string; 'steer-after-prompt'?: boolean }

/** The steering hook the flags ask for (null without --control-vector), checked against the model. */
export async function controlFromFlags(command: string, model: LlamaForCausalLM, v: ControlValues, promptLengths: number[]): Promise<EditHook | null> {
  const files = v['control-vector'] ?? [];
  const strengths = (v['control-strength'] ?? []).map((s) => numberFlag(command, 'control-strength', s, 1));
  if (!files.length) {
    if (strengths.length || v['control-layers'] || v['steer-after-prompt']) throw new UsageError(`wgrad ${command}: --control-strength/--control-layers/--steer-after-prompt need --control-vector FILE`);
    return null;
  }
  if (strengths.length > 1 && strengths.length !== files.length) {
    throw new UsageError(`wgrad ${command}: ${strengths.length} --control-strength values for ${files.length} --control-vector files (give one for all, or one each)`);
  }
  const layers = layerRange(command, 'control-layers', v['control-layers']);
  const vectors = await Promise.all(files.map(async (f, i) => {
    const cv = await loadControlVector(f);
    return { directions: cv.directions, strength: strengths.length > 1 ? strengths[i] : (strengths[0] ?? 1), source: f };
  }));
  return controlHook(model, vectors, { layers, afterPrompt: v['steer-after-prompt'] ? promptLengths : undefined });
}
