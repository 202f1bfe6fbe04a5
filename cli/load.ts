// Model and tokenizer from --model/--tokenizer, recognised by content (model-path.ts).
import type { Backend } from '../engine/index.ts';
import { loadLlama } from '../llm/models/llama/load.ts';
import { loadTokenizer } from '../llm/tokenizers/load.ts';
import { log, UsageError } from './args.ts';
import { resolveModelPaths } from './model-path.ts';

export async function loadModelAndTokenizer(o: Record<string, unknown>, backend: Backend) {
  const paths = resolveModelPaths(o.model as string | undefined, o.tokenizer as string | undefined);
  const tokenizer = await loadTokenizer(paths.tokenizer);
  const { model } = await loadLlama(paths.model, { backend });
  if (tokenizer.vocabSize > model.config.vocabSize) {
    model.dispose();
    throw new UsageError(`the tokenizer ${paths.tokenizer} has ${tokenizer.vocabSize} tokens but the model ${paths.model} has vocab_size ${model.config.vocabSize}: ` +
      'they do not belong together (pass the tokenizer the model was trained with as --tokenizer)');
  }
  log(`wgrad: loaded ${paths.format} model ${paths.model} (${model.config.numLayers} layers, hidden ${model.config.hiddenSize}, ${model.config.maxPositions} positions)`);
  return { model, tokenizer, paths };
}
