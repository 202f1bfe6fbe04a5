// wgrad generate: load a model, encode a prompt, stream generated text to stdout.
import { dirname, join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { createBackend, type BackendChoice } from '../../engine/index.ts';
import { generate } from '../../llm/generate/generate.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { withHooks } from '../../llm/editing/hooks.ts';
import { log, numberFlag, parse, UsageError } from '../args.ts';
import { controlFlags, controlFromFlags, controlHelp } from './control-options.ts';

export const generateHelp = `wgrad generate --model PATH --prompt TEXT [options]
  --model PATH          Hugging Face folder, or llama2.c .bin (then also --tokenizer)
  --tokenizer PATH      tokenizer.json / tokenizer.bin (default: the model folder's)
  --prompt TEXT         prompt text (default: empty, i.e. start from BOS)
  --chat                wrap the prompt as a user message with the chat template
  --max-tokens N        new tokens to generate (default 256)
  --temperature T       0 = greedy (default 0)
  --top-k K             sample from the K most likely tokens (default 0 = all)
  --top-p P             nucleus sampling (default 1)
  --seed S              sampling seed (default 0)
  --backend NAME        cpu | webgpu | auto (default: WGRAD_BACKEND, then auto)
${controlHelp}`;

export async function generateCommand(argv: string[]): Promise<void> {
  const { values } = parse('generate', argv, {
    model: { type: 'string' }, tokenizer: { type: 'string' }, prompt: { type: 'string' }, chat: { type: 'boolean' },
    'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' },
    'top-p': { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, ...controlFlags,
  });
  if (values.help) { console.log(generateHelp); return; }
  if (!values.model) throw new UsageError(`wgrad generate: --model is required\n\n${generateHelp}`);
  const modelPath = values.model;
  if (!existsSync(modelPath)) throw new UsageError(`wgrad generate: --model ${modelPath} does not exist (expected a Hugging Face folder or a llama2.c .bin)`);
  const isDir = existsSync(modelPath) && statSync(modelPath).isDirectory();
  const tokPath = values.tokenizer ?? (isDir ? join(modelPath, 'tokenizer.json') : join(dirname(modelPath), 'tokenizer.bin'));
  if (!existsSync(tokPath)) throw new UsageError(`wgrad generate: no tokenizer at ${tokPath}; pass --tokenizer PATH`);
  const maxTokens = numberFlag('generate', 'max-tokens', values['max-tokens'], 256, 'a positive integer', (n) => Number.isInteger(n) && n > 0);
  const temperature = numberFlag('generate', 'temperature', values.temperature, 0, 'a number ≥ 0', (n) => n >= 0);
  const topK = numberFlag('generate', 'top-k', values['top-k'], 0, 'an integer ≥ 0', (n) => Number.isInteger(n) && n >= 0);
  const topP = numberFlag('generate', 'top-p', values['top-p'], 1, 'a number in (0, 1]', (n) => n > 0 && n <= 1);
  const seed = numberFlag('generate', 'seed', values.seed, 0, 'an integer', Number.isInteger);

  const backend = await createBackend({ backend: values.backend as BackendChoice | undefined });
  try {
    log(`wgrad: backend ${backend.description}`);
    const tokenizer = await loadTokenizer(tokPath);
    const { model, format } = await loadLlama(modelPath, { backend });
    log(`wgrad: loaded ${format} model ${modelPath} (${model.config.numLayers} layers, hidden ${model.config.hiddenSize})`);
    const text = values.prompt ?? '';
    const ids = values.chat
      ? tokenizer.encodeChat([{ role: 'user', content: text }])
      : tokenizer.encode(text, { addBos: true });
    const stops = [...new Set([...model.config.eosTokenIds, ...tokenizer.stopIds])];
    const decoder = tokenizer.streamDecoder({ skipSpecialTokens: true, previousId: ids[ids.length - 1] });
    const t0 = performance.now();
    const control = await controlFromFlags('generate', model, values, [ids.length]);
    const [out] = await withHooks(model, control ? [control] : [], () => generate(model, [ids], {
      maxNewTokens: maxTokens, temperature, topK, topP, seed, stopTokens: stops,
      onTokens: ([t]) => { if (t !== null && !stops.includes(t)) process.stdout.write(decoder.push(t)); },
    }));
    control?.dispose();
    process.stdout.write(decoder.flush() + '\n');
    const s = (performance.now() - t0) / 1000;
    log(`wgrad: ${out.length} tokens in ${s.toFixed(2)} s (${(out.length / s).toFixed(1)} tokens/s)`);
    model.dispose();
  } finally {
    backend.destroy();
  }
}
