// wgrad steer train | inspect: control vectors from contrast pairs (repeng, CAA) as llama.cpp GGUF.
import { createBackend, type BackendChoice } from '../../engine/index.ts';
import { encodeCaa, readContrastPairs } from '../../llm/editing/prompts.ts';
import { STEERING_METHODS, trainSteeringVector, type SteeringMethod } from '../../llm/editing/steering/train.ts';
import { loadControlVector, saveControlVector } from '../../llm/io/gguf.ts';
import { log, numberFlag, parse, UsageError } from '../args.ts';
import { layerRange, modelPaths, openModel } from './model-files.ts';

export const steerHelp = `wgrad steer train --model M --data pairs.jsonl --output vec.gguf [options]
wgrad steer inspect FILE.gguf
  train: one direction per block output from contrast pairs, written as a llama.cpp control vector
  --data FILE           {"positive", "negative"} rows (repeng; the last token of each text) or CAA A/B
                        rows {"question", "answer_matching_behavior", "answer_not_matching_behavior"}
                        (the answer letter: position −2 of "... (A)")
  --method M            ${STEERING_METHODS.join(' | ')} (default pca_diff)
  --layers A-B          blocks to train (default 1..L−1; llama.cpp has no slot for block 0)
  --model-hint NAME     controlvector.model_hint (default: config's model_type, else "llama")
  --tokenizer PATH      default: the model folder's
  --batch-size N        texts per forward (default 32)
  --backend NAME        cpu | webgpu | auto
  inspect: prints the model hint, the blocks and each direction's norm`;

export async function steerCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') { console.log(steerHelp); return; }
  if (sub === 'inspect') return inspect(rest);
  if (sub === 'train') return train(rest);
  throw new UsageError(`wgrad steer: unknown subcommand "${sub}" (expected train or inspect)`);
}

async function inspect(argv: string[]): Promise<void> {
  const { values, positionals } = parse('steer inspect', argv, {});
  if (values.help) { console.log(steerHelp); return; }
  if (positionals.length !== 1) throw new UsageError('wgrad steer inspect: expected one GGUF file');
  const cv = await loadControlVector(positionals[0]);
  console.log(`${positionals[0]}: control vector for "${cv.modelHint}", hidden size ${cv.hiddenSize}, ${cv.directions.size} blocks`);
  console.log('block  norm');
  for (const l of [...cv.directions.keys()].sort((a, b) => a - b)) console.log(`${String(l).padStart(5)}  ${Math.hypot(...cv.directions.get(l)!).toFixed(4)}`);
}

async function train(argv: string[]): Promise<void> {
  const { values } = parse('steer train', argv, {
    model: { type: 'string' }, tokenizer: { type: 'string' }, data: { type: 'string' }, method: { type: 'string' }, output: { type: 'string' },
    layers: { type: 'string' }, 'model-hint': { type: 'string' }, 'batch-size': { type: 'string' }, backend: { type: 'string' },
  });
  if (values.help) { console.log(steerHelp); return; }
  const paths = modelPaths('steer train', values.model, values.tokenizer);
  if (!values.data) throw new UsageError('wgrad steer train: --data is required');
  if (!values.output) throw new UsageError('wgrad steer train: --output is required (a .gguf file)');
  const method = (values.method ?? 'pca_diff') as SteeringMethod;
  if (!STEERING_METHODS.includes(method)) throw new UsageError(`wgrad steer train: --method expects ${STEERING_METHODS.join(', ')}, got "${values.method}"`);
  const range = layerRange('steer train', 'layers', values.layers);
  if (range && range[0] === 0) throw new UsageError('wgrad steer train: --layers cannot include block 0 (llama.cpp rejects direction.0 and keeps no slot for it)');
  const batchSize = numberFlag('steer train', 'batch-size', values['batch-size'], 32, 'a positive integer', (n) => Number.isInteger(n) && n > 0);
  const { format, pairs } = await readContrastPairs(values.data);
  const backend = await createBackend({ backend: values.backend as BackendChoice | undefined });
  try {
    const { model, tokenizer } = await openModel(paths, backend);
    const L = model.config.numLayers;
    if (range && range[1] >= L) throw new UsageError(`wgrad steer train: --layers ${values.layers} goes past the model's blocks 0..${L - 1}`);
    const layers = range ? Array.from({ length: range[1] - range[0] + 1 }, (_, i) => range[0] + i) : undefined;
    const encoded = pairs.map((p) => (format === 'caa'
      ? { positive: encodeCaa(tokenizer, p.question!, p.positive), negative: encodeCaa(tokenizer, p.question!, p.negative) }
      : { positive: tokenizer.encode(p.positive), negative: tokenizer.encode(p.negative) }));
    log(`wgrad steer: ${pairs.length} ${format} pairs from ${values.data}, ${method}, blocks ${layers ? `${layers[0]}..${layers[layers.length - 1]}` : `1..${L - 1}`}`);
    const directions = await trainSteeringVector(model, encoded, { method, layers, offset: format === 'caa' ? -2 : -1, batchSize });
    const hint = values['model-hint'] ?? (paths.isDir ? await modelType(paths.model) : 'llama');
    await saveControlVector(values.output, { modelHint: hint, directions });
    log(`wgrad steer: wrote ${values.output} (${directions.size} directions, model hint "${hint}")`);
    model.dispose();
  } finally {
    backend.destroy();
  }
}

async function modelType(dir: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    const t = JSON.parse(await readFile(`${dir}/config.json`, 'utf8')).model_type;
    return typeof t === 'string' ? t : 'llama';
  } catch {
    return 'llama';
  }
}
