// wgrad abliterate: find the refusal direction (Arditi et al.), remove it from the weights, write an
// HF folder (or its rank-1 LoRA form), and report refusal rate and first-token KL before and after.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend, type BackendChoice } from '../../engine/index.ts';
import { exportHfFolder, saveAdapter } from '../../llm/adapters/index.ts';
import { abliterate, formatAbliterationReport } from '../../llm/editing/abliteration/run.ts';
import { REFUSAL_MARKERS } from '../../llm/editing/abliteration/refusal.ts';
import type { LayerKernel } from '../../llm/editing/abliteration/weights.ts';
import { encodeInstruction, postInstructionOffsets, readInstructions } from '../../llm/editing/prompts.ts';
import { makeDir } from '../../llm/io/node-fs.ts';
import { log, numberFlag, parse, UsageError } from '../args.ts';
import { modelPaths, openModel } from './model-files.ts';

export const abliterateHelp = `wgrad abliterate --model M --harmful FILE --harmless FILE --output DIR [options]
  finds the refusal direction (mean harmful − mean harmless residual, chosen as Arditi et al.), removes
  it from the weights and writes DIR (HF folder, or --format lora) with report.json
  --harmful/--harmless FILE     instructions: .txt (one per line), JSON/JSONL/CSV/Parquet rows with
                                instruction / prompt / goal / question / text (refusal_direction splits, AdvBench)
  --harmful-val/--harmless-val FILE, --harmful-test/--harmless-test FILE
                                validation (direction choice) and held-out (report) sets; default: split off the
                                --harmful/--harmless files (after --n-train)
  --n-train N / --n-val N / --n-test N   prompts per set (defaults 128 / 32 / 64)
  --format hf|lora              an HF folder (default) or a rank-1 LoRA (DIR/adapter PEFT, DIR/adapter-mlx)
  --layer L / --position I      use block L's candidate / position index I (0: the first post-instruction token)
  --scale S                     strength of the edit (default 1)
  --kernel MAX,POS,MIN,DIST     heretic's per-block weight: MAX at block POS, falling to MIN over DIST blocks
  --norm-preserving             keep each o_proj/down_proj column's norm (grimjim)
  --biprojected                 remove the harmless mean's component from the direction (grimjim)
  --no-embedding                leave the embedding alone (heretic)
  --kl-threshold X              candidates with a larger first-token KL are skipped (default 0.1)
  --refusal-markers FILE        more refusal substrings, one per line (added to Arditi et al.'s list)
  --search N                    try N edit settings, report the Pareto front of (refusal rate, KL)
  --max-tokens N                completion length for the refusal rate (default 64)
  --batch-size N                prompts per forward (default 32)
  --tokenizer PATH, --backend NAME`;

const count = (name: string, v: string | undefined, d: number) => numberFlag('abliterate', name, v, d, 'a positive integer', (n) => Number.isInteger(n) && n > 0);

export async function abliterateCommand(argv: string[]): Promise<void> {
  const { values } = parse('abliterate', argv, {
    model: { type: 'string' }, tokenizer: { type: 'string' }, harmful: { type: 'string' }, harmless: { type: 'string' },
    'harmful-val': { type: 'string' }, 'harmless-val': { type: 'string' }, 'harmful-test': { type: 'string' }, 'harmless-test': { type: 'string' },
    'n-train': { type: 'string' }, 'n-val': { type: 'string' }, 'n-test': { type: 'string' }, output: { type: 'string' }, format: { type: 'string' },
    layer: { type: 'string' }, position: { type: 'string' }, scale: { type: 'string' }, kernel: { type: 'string' }, 'norm-preserving': { type: 'boolean' },
    biprojected: { type: 'boolean' }, 'no-embedding': { type: 'boolean' }, 'kl-threshold': { type: 'string' }, 'refusal-markers': { type: 'string' },
    search: { type: 'string' }, 'max-tokens': { type: 'string' }, 'batch-size': { type: 'string' }, backend: { type: 'string' },
  });
  if (values.help) { console.log(abliterateHelp); return; }
  const paths = modelPaths('abliterate', values.model, values.tokenizer);
  for (const k of ['harmful', 'harmless', 'output'] as const) if (!values[k]) throw new UsageError(`wgrad abliterate: --${k} is required\n\n${abliterateHelp}`);
  const format = values.format ?? 'hf';
  if (format !== 'hf' && format !== 'lora') throw new UsageError(`wgrad abliterate: --format expects hf or lora, got "${format}"`);
  const nTrain = count('n-train', values['n-train'], 128), nVal = count('n-val', values['n-val'], 32), nTest = count('n-test', values['n-test'], 64);
  const kernel = parseKernel(values.kernel);
  if (format === 'lora' && values['norm-preserving']) throw new UsageError('wgrad abliterate: --norm-preserving has no rank-1 LoRA form; use --format hf');
  const markers = [...REFUSAL_MARKERS, ...(values['refusal-markers'] ? await readInstructions(values['refusal-markers']) : [])];

  // Each set: its own file, else the next slice of the main file.
  const sets = async (kind: 'harmful' | 'harmless') => {
    const main = await readInstructions(values[kind]!);
    const val = values[`${kind}-val`] ? await readInstructions(values[`${kind}-val`]!) : null;
    const test = values[`${kind}-test`] ? await readInstructions(values[`${kind}-test`]!) : null;
    let at = nTrain;
    const take = (own: string[] | null, n: number, what: string) => {
      if (own) return own.slice(0, n);
      const s = main.slice(at, at + n);
      at += n;
      if (!s.length) throw new UsageError(`wgrad abliterate: ${values[kind]} has ${main.length} instructions, none left for the ${kind} ${what} set after --n-train ${nTrain}; pass --${kind}-${what} FILE or lower --n-train`);
      return s;
    };
    return { train: main.slice(0, nTrain), val: take(val, nVal, 'val'), test: take(test, nTest, 'test') };
  };
  const harmful = await sets('harmful'), harmless = await sets('harmless');

  const backend = await createBackend({ backend: values.backend as BackendChoice | undefined });
  try {
    log(`wgrad abliterate: backend ${backend.description}`);
    const { model, tokenizer } = await openModel(paths, backend);
    const enc = (xs: string[]) => xs.map((x) => encodeInstruction(tokenizer, x));
    const offsets = postInstructionOffsets(tokenizer);
    const position = values.position === undefined ? undefined : numberFlag('abliterate', 'position', values.position, 0, `an index 0..${offsets.length - 1}`, (n) => Number.isInteger(n) && n >= 0 && n < offsets.length);
    const layer = values.layer === undefined ? undefined : numberFlag('abliterate', 'layer', values.layer, 0, `a block 0..${model.config.numLayers - 1}`, (n) => Number.isInteger(n) && n >= 0 && n < model.config.numLayers);
    // Refusal tokens: the first token of each marker as the model would start its answer.
    const refusalTokens = [...new Set(markers.map((m) => tokenizer.encode(m, { addBos: false })[0]).filter((t) => t !== undefined))];
    const stops = [...new Set([...model.config.eosTokenIds, ...tokenizer.stopIds])];
    const result = await abliterate(model, {
      harmfulTrain: enc(harmful.train), harmlessTrain: enc(harmless.train), harmfulVal: enc(harmful.val), harmlessVal: enc(harmless.val),
      harmfulTest: enc(harmful.test), harmlessTest: enc(harmless.test),
    }, {
      offsets, refusalTokens, layer, positionIndex: position, markers, stopTokens: stops, form: format === 'lora' ? 'lora' : 'weights',
      scale: numberFlag('abliterate', 'scale', values.scale, 1), kernel, normPreserving: values['norm-preserving'], biprojected: values.biprojected,
      embedding: !values['no-embedding'], klThreshold: numberFlag('abliterate', 'kl-threshold', values['kl-threshold'], 0.1, 'a number ≥ 0', (n) => n >= 0),
      search: values.search === undefined ? undefined : count('search', values.search, 0),
      maxNewTokens: count('max-tokens', values['max-tokens'], 64), batchSize: count('batch-size', values['batch-size'], 32),
    }, { decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }), log });
    const out = values.output!;
    await makeDir(out);
    if (format === 'lora') {
      await saveAdapter(result.model, join(out, 'adapter'), { format: 'peft', baseModel: paths.model });
      await saveAdapter(result.model, join(out, 'adapter-mlx'), { format: 'mlx', baseModel: paths.model });
    } else {
      // An orthogonalised tied embedding was untied, so the base config.json no longer describes the model.
      const untied = result.model.config.tieWordEmbeddings !== model.config.tieWordEmbeddings;
      await exportHfFolder(result.model, out, paths.isDir ? { tokenizerFrom: paths.model, configFrom: untied ? false : undefined } : {});
    }
    writeFileSync(join(out, 'report.json'), `${JSON.stringify({ ...result.report, direction: { ...result.report.direction, values: [...result.direction] } }, null, 2)}\n`);
    console.log(formatAbliterationReport(result.report));
    log(`wgrad abliterate: wrote ${format === 'lora' ? `${out}/adapter (PEFT), ${out}/adapter-mlx (mlx-lm)` : `${out} (HF folder)`} and ${out}/report.json`);
    result.model.dispose();
    if (result.model !== model) model.dispose();
  } finally {
    backend.destroy();
  }
}

function parseKernel(v: string | undefined): LayerKernel | undefined {
  if (v === undefined) return undefined;
  const xs = v.split(',').map(Number);
  if (xs.length !== 4 || xs.some((x) => !Number.isFinite(x)) || xs[3] < 0) {
    throw new UsageError(`wgrad abliterate: --kernel expects MAX,POS,MIN,DIST (four numbers, DIST ≥ 0), got "${v}"`);
  }
  return { maxWeight: xs[0], maxWeightPosition: xs[1], minWeight: xs[2], minWeightDistance: xs[3] };
}
