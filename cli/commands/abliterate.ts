// wgrad abliterate: find the refusal direction (Arditi et al.), remove it from the weights, write an
// HF folder (or its rank-1 LoRA form), and report refusal rate and first-token KL before and after.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportHfFolder, saveAdapter } from '../../llm/adapters/index.ts';
import { abliterate, formatAbliterationReport } from '../../llm/editing/abliteration/run.ts';
import { REFUSAL_MARKERS } from '../../llm/editing/abliteration/refusal.ts';
import type { LayerKernel } from '../../llm/editing/abliteration/weights.ts';
import { encodeInstruction, postInstructionOffsets, readInstructions } from '../../llm/editing/prompts.ts';
import { makeDir } from '../../llm/io/node-fs.ts';
import { anyNumber, choice, log, nonNegative, nonNegativeInt, positiveInt, UsageError, type CommandSpec, type ParseValue } from '../args.ts';
import { openBackend } from '../backend.ts';
import { loadModelAndTokenizer } from '../load.ts';
import { backendFlags, modelFlags } from '../options.ts';

const kernel: ParseValue<LayerKernel> = (raw, flag) => {
  const xs = raw.split(',').map(Number);
  if (xs.length !== 4 || xs.some((x) => !Number.isFinite(x)) || xs[3] < 0) throw new UsageError(`${flag} expects MAX,POS,MIN,DIST (four numbers, DIST ≥ 0), got "${raw}"`);
  return { maxWeight: xs[0], maxWeightPosition: xs[1], minWeight: xs[2], minWeightDistance: xs[3] };
};

export const abliterateSpec: CommandSpec = {
  name: 'abliterate',
  summary: 'remove the refusal direction from a model (Arditi et al.): an HF folder or a rank-1 LoRA, with a report',
  description: 'finds the refusal direction (mean harmful − mean harmless residual at each block input and\n' +
    'post-instruction position, chosen as Arditi et al.: lowest ablated refusal score, first-token KL ≤ 0.1),\n' +
    'removes it from the embedding, o_proj and down_proj, and writes DIR with report.json',
  flags: [
    ...modelFlags,
    { flags: '--harmful <file>', help: 'instructions: .txt (one per line) or JSON/JSONL/CSV/Parquet rows with instruction / prompt / goal / question / text' },
    { flags: '--harmless <file>', help: 'instructions the model answers' },
    { flags: '--harmful-val <file>', help: 'validation set for choosing the direction (default: the next --n-val of --harmful)' },
    { flags: '--harmless-val <file>', help: 'likewise for --harmless' },
    { flags: '--harmful-test <file>', help: 'held-out set for the report (default: the next --n-test of --harmful)' },
    { flags: '--harmless-test <file>', help: 'likewise for --harmless' },
    { flags: '--n-train <n>', help: 'prompts per kind for the candidates', default: 128, parse: positiveInt },
    { flags: '--n-val <n>', help: 'validation prompts per kind', default: 32, parse: positiveInt },
    { flags: '--n-test <n>', help: 'held-out prompts per kind', default: 64, parse: positiveInt },
    { flags: '--output <dir>', help: 'where to write the model (or adapters) and report.json' },
    { flags: '--format <f>', help: 'hf: an HF folder; lora: a rank-1 LoRA (DIR/adapter PEFT, DIR/adapter-mlx mlx-lm)', default: 'hf', parse: choice(['hf', 'lora'] as const) },
    { flags: '--layer <l>', help: 'use block L\'s candidate (the filters are reported, not applied)', parse: nonNegativeInt },
    { flags: '--position <i>', help: 'use candidate position I (0: the first post-instruction token)', parse: nonNegativeInt },
    { flags: '--scale <s>', help: 'strength of the edit', default: 1, parse: anyNumber },
    { flags: '--kernel <max,pos,min,dist>', help: 'heretic\'s per-block weight: MAX at block POS, falling linearly to MIN over DIST blocks, none beyond', parse: kernel },
    { flags: '--norm-preserving', help: 'keep each o_proj/down_proj column\'s norm (grimjim)' },
    { flags: '--biprojected', help: 'remove the harmless mean\'s component from the direction (grimjim)' },
    { flags: '--no-embedding', help: 'leave the embedding alone (heretic)' },
    { flags: '--kl-threshold <x>', help: 'candidates with a larger first-token KL on harmless prompts are skipped', default: 0.1, parse: nonNegative },
    { flags: '--refusal-markers <file>', help: 'more refusal substrings, one per line (added to Arditi et al.\'s list)' },
    { flags: '--search <n>', help: 'try N edit settings and report the Pareto front of (refusal rate, KL)', parse: positiveInt },
    { flags: '--max-tokens <n>', help: 'completion length for the refusal rate', default: 64, parse: positiveInt },
    { flags: '--batch-size <n>', help: 'prompts per forward', default: 32, parse: positiveInt },
    ...backendFlags,
  ],
  run: async (o) => {
    for (const k of ['harmful', 'harmless', 'output'] as const) if (!o[k]) throw new UsageError(`--${k} is required`);
    const format = o.format as 'hf' | 'lora';
    if (format === 'lora' && o.normPreserving) throw new UsageError('--norm-preserving has no rank-1 LoRA form; use --format hf');
    const nTrain = o.nTrain as number;
    const markers = [...REFUSAL_MARKERS, ...(o.refusalMarkers ? await readInstructions(o.refusalMarkers as string) : [])];
    // Each set: its own file, else the next slice of the main file.
    const sets = async (kind: 'harmful' | 'harmless') => {
      const main = await readInstructions(o[kind] as string);
      let at = nTrain;
      const take = async (what: 'Val' | 'Test', n: number) => {
        const own = o[`${kind}${what}`] as string | undefined;
        if (own) return (await readInstructions(own)).slice(0, n);
        const s = main.slice(at, at + n);
        at += n;
        if (!s.length) throw new UsageError(`${o[kind]} has ${main.length} instructions, none left for the ${kind} ${what.toLowerCase()} set after --n-train ${nTrain}; pass --${kind}-${what.toLowerCase()} FILE or lower --n-train`);
        return s;
      };
      return { train: main.slice(0, nTrain), val: await take('Val', o.nVal as number), test: await take('Test', o.nTest as number) };
    };
    const harmful = await sets('harmful'), harmless = await sets('harmless');

    const backend = await openBackend(o);
    try {
      const { model, tokenizer, paths } = await loadModelAndTokenizer(o, backend);
      const enc = (xs: string[]) => xs.map((x) => encodeInstruction(tokenizer, x));
      const offsets = postInstructionOffsets(tokenizer);
      const position = o.position as number | undefined, layer = o.layer as number | undefined;
      if (position !== undefined && position >= offsets.length) throw new UsageError(`--position ${position}: the template has ${offsets.length} post-instruction positions (0..${offsets.length - 1})`);
      if (layer !== undefined && layer >= model.config.numLayers) throw new UsageError(`--layer ${layer}: the model has blocks 0..${model.config.numLayers - 1}`);
      // Refusal tokens: the first token of each marker as the model would start its answer.
      const refusalTokens = [...new Set(markers.map((m) => tokenizer.encode(m, { addBos: false })[0]).filter((t) => t !== undefined))];
      const stops = [...new Set([...model.config.eosTokenIds, ...tokenizer.stopIds])];
      const result = await abliterate(model, {
        harmfulTrain: enc(harmful.train), harmlessTrain: enc(harmless.train), harmfulVal: enc(harmful.val), harmlessVal: enc(harmless.val),
        harmfulTest: enc(harmful.test), harmlessTest: enc(harmless.test),
      }, {
        offsets, refusalTokens, layer, positionIndex: position, markers, stopTokens: stops, form: format === 'lora' ? 'lora' : 'weights',
        scale: o.scale as number, kernel: o.kernel as LayerKernel | undefined, normPreserving: !!o.normPreserving, biprojected: !!o.biprojected,
        embedding: o.embedding !== false, klThreshold: o.klThreshold as number, search: o.search as number | undefined,
        maxNewTokens: o.maxTokens as number, batchSize: o.batchSize as number,
      }, { decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }), log });
      const out = o.output as string;
      await makeDir(out);
      if (format === 'lora') {
        await saveAdapter(result.model, join(out, 'adapter'), { format: 'peft', baseModel: paths.model });
        await saveAdapter(result.model, join(out, 'adapter-mlx'), { format: 'mlx', baseModel: paths.model });
      } else {
        // An orthogonalised tied embedding was untied, so the base config.json no longer describes the model.
        const untied = result.model.config.tieWordEmbeddings !== model.config.tieWordEmbeddings;
        await exportHfFolder(result.model, out, paths.format === 'hf' ? { tokenizerFrom: paths.model, configFrom: untied ? false : undefined } : {});
      }
      writeFileSync(join(out, 'report.json'), `${JSON.stringify({ ...result.report, direction: { ...result.report.direction, values: [...result.direction] } }, null, 2)}\n`);
      console.log(formatAbliterationReport(result.report));
      log(`wgrad abliterate: wrote ${format === 'lora' ? `${out}/adapter (PEFT), ${out}/adapter-mlx (mlx-lm)` : `${out} (HF folder)`} and ${out}/report.json`);
      result.model.dispose();
      if (result.model !== model) model.dispose();
    } finally {
      backend.destroy();
    }
  },
};
