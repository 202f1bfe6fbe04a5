// wgrad steer train | inspect: control vectors from contrast pairs (repeng, CAA) as llama.cpp GGUF.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeCaa, readContrastPairs } from '../../llm/editing/prompts.ts';
import { STEERING_METHODS, trainSteeringVector, type SteeringMethod } from '../../llm/editing/steering/train.ts';
import { loadControlVector, saveControlVector } from '../../llm/io/gguf.ts';
import { choice, log, positiveInt, UsageError, type CommandSpec } from '../args.ts';
import { openBackend } from '../backend.ts';
import { layerRange } from '../layer-range.ts';
import { loadModelAndTokenizer } from '../load.ts';
import { backendFlags, modelFlags } from '../options.ts';

const trainSpec: CommandSpec = {
  name: 'train',
  summary: 'one direction per block output from contrast pairs, written as a llama.cpp control vector',
  flags: [
    ...modelFlags,
    { flags: '--data <file>', help: '{"positive", "negative"} rows (repeng: the last token of each text) or CAA A/B rows {"question", "answer_matching_behavior", "answer_not_matching_behavior"} (the answer letter, position −2 of "... (A)")' },
    { flags: '--method <m>', help: STEERING_METHODS.join(' | '), default: 'pca_diff', parse: choice(STEERING_METHODS) },
    { flags: '--output <file>', help: 'the .gguf to write' },
    { flags: '--layers <A-B>', help: 'blocks to train (default 1..L−1; llama.cpp has no slot for block 0)', parse: layerRange },
    { flags: '--model-hint <name>', help: 'controlvector.model_hint (default: config.json\'s model_type, else "llama")' },
    { flags: '--batch-size <n>', help: 'texts per forward', default: 32, parse: positiveInt },
    ...backendFlags,
  ],
  run: async (o) => {
    if (!o.data) throw new UsageError('--data is required');
    if (!o.output) throw new UsageError('--output is required (a .gguf file)');
    const range = o.layers as [number, number] | undefined;
    if (range && range[0] === 0) throw new UsageError('--layers cannot include block 0 (llama.cpp rejects direction.0 and keeps no slot for it)');
    const { format, pairs } = await readContrastPairs(o.data as string);
    const backend = await openBackend(o);
    try {
      const { model, tokenizer, paths } = await loadModelAndTokenizer(o, backend);
      const L = model.config.numLayers;
      if (range && range[1] >= L) throw new UsageError(`--layers ${range[0]}-${range[1]} goes past the model's blocks 0..${L - 1}`);
      const layers = range ? Array.from({ length: range[1] - range[0] + 1 }, (_, i) => range[0] + i) : undefined;
      const encoded = pairs.map((p) => (format === 'caa'
        ? { positive: encodeCaa(tokenizer, p.question!, p.positive), negative: encodeCaa(tokenizer, p.question!, p.negative) }
        : { positive: tokenizer.encode(p.positive), negative: tokenizer.encode(p.negative) }));
      const method = o.method as SteeringMethod;
      log(`wgrad steer: ${pairs.length} ${format} pairs from ${o.data}, ${method}, blocks ${layers ? `${layers[0]}..${layers[layers.length - 1]}` : `1..${L - 1}`}`);
      const directions = await trainSteeringVector(model, encoded, { method, layers, offset: format === 'caa' ? -2 : -1, batchSize: o.batchSize as number });
      const hint = (o.modelHint as string | undefined) ?? (paths.format === 'hf' ? await modelType(paths.model) : 'llama');
      await saveControlVector(o.output as string, { modelHint: hint, directions });
      log(`wgrad steer: wrote ${o.output} (${directions.size} directions, model hint "${hint}")`);
      model.dispose();
    } finally {
      backend.destroy();
    }
  },
};

const inspectSpec: CommandSpec = {
  name: 'inspect',
  summary: 'the model hint, the blocks and each direction\'s norm of a GGUF control vector',
  args: ['<file>'],
  flags: [],
  run: async (_o, [file]) => {
    const cv = await loadControlVector(file as string);
    console.log(`${file}: control vector for "${cv.modelHint}", hidden size ${cv.hiddenSize}, ${cv.directions.size} blocks`);
    console.log('block  norm');
    for (const l of [...cv.directions.keys()].sort((a, b) => a - b)) console.log(`${String(l).padStart(5)}  ${Math.hypot(...cv.directions.get(l)!).toFixed(4)}`);
  },
};

export const steerSpec: CommandSpec = {
  name: 'steer',
  summary: 'activation steering: train a control vector (repeng/CAA pairs → llama.cpp GGUF) or inspect one',
  flags: [],
  subcommands: [trainSpec, inspectSpec],
  after: 'apply one with: wgrad generate --model M --control-vector vec.gguf --control-strength 0.8 "prompt"',
  run: () => { throw new UsageError('expected a subcommand: train or inspect'); },
};

async function modelType(dir: string): Promise<string> {
  try {
    const t = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')).model_type;
    return typeof t === 'string' ? t : 'llama';
  } catch {
    return 'llama';
  }
}
