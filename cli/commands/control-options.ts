// generate's steering flags: --control-vector FILE[,FILE...] (llama.cpp's name; vectors add),
// --control-strength S[,S...] (one for all, or one per vector), --control-layers A-B,
// --steer-after-prompt (CAA: generated tokens only).
import type { EditHook } from '../../llm/editing/hooks.ts';
import { controlHook } from '../../llm/editing/steering/apply.ts';
import { loadControlVector } from '../../llm/io/gguf.ts';
import type { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { list, UsageError, type Flag } from '../args.ts';
import { layerRange } from '../layer-range.ts';

const numbers = (raw: string, flag: string) => list(raw, flag).map((s) => {
  const n = Number(s);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} expects numbers separated by commas, got "${raw}"`);
  return n;
});

export const controlFlags: Flag[] = [
  { flags: '--control-vector <files>', help: 'GGUF control vector(s), comma-separated, added to block outputs (several add)', parse: list },
  { flags: '--control-strength <s>', help: 'their multiplier: one for all, or one per vector, comma-separated (default 1; negative subtracts)', parse: numbers },
  { flags: '--control-layers <A-B>', help: 'steer only blocks A..B (inclusive)', parse: layerRange },
  { flags: '--steer-after-prompt', help: 'steer only the generated tokens (CAA), not the prompt' },
];

/** The steering hook the flags ask for (null without --control-vector), checked against the model. */
export async function controlFromFlags(model: LlamaForCausalLM, o: Record<string, unknown>, promptLengths: number[]): Promise<EditHook | null> {
  const files = (o.controlVector as string[] | undefined) ?? [];
  const strengths = (o.controlStrength as number[] | undefined) ?? [];
  if (!files.length) {
    if (strengths.length || o.controlLayers || o.steerAfterPrompt) throw new UsageError('--control-strength/--control-layers/--steer-after-prompt need --control-vector FILE');
    return null;
  }
  if (strengths.length > 1 && strengths.length !== files.length) {
    throw new UsageError(`${strengths.length} --control-strength values for ${files.length} --control-vector files (give one for all, or one each)`);
  }
  const vectors = await Promise.all(files.map(async (f, i) => {
    const cv = await loadControlVector(f);
    return { directions: cv.directions, strength: strengths.length > 1 ? strengths[i] : (strengths[0] ?? 1), source: f };
  }));
  return controlHook(model, vectors, { layers: o.controlLayers as [number, number] | undefined, afterPrompt: o.steerAfterPrompt ? promptLengths : undefined });
}
