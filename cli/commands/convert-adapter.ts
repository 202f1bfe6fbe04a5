// wgrad convert-adapter: rewrite a LoRA adapter folder as PEFT or mlx-lm (no model needed, unless
// mlx-lm's num_layers must be known: then --model or --num-layers).
import { convertAdapter, type AdapterFormat } from '../../llm/adapters/index.ts';
import { choice, log, positiveInt, UsageError, type CommandSpec } from '../args.ts';
import { checkOutputDir } from '../output-dir.ts';

export const convertAdapterSpec: CommandSpec = {
  name: 'convert-adapter',
  summary: 'rewrite a LoRA adapter folder as PEFT or mlx-lm',
  args: ['<adapter>'],
  flags: [
    { flags: '--to <format>', help: 'peft | mlx', parse: choice(['peft', 'mlx'] as const) },
    { flags: '--output-dir <dir>', help: 'where to write the converted adapter' },
    { flags: '--num-layers <n>', help: 'the base model\'s layer count (mlx-lm\'s num_layers counts from the last layer), when the adapter does not say', parse: positiveInt },
  ],
  after: 'example: wgrad convert-adapter out/adapter --to mlx --output-dir out/adapter-mlx',
  run: async (o, [src]) => {
    if (!o.to) throw new UsageError('--to is required (peft or mlx)');
    if (!o.outputDir) throw new UsageError('--output-dir is required');
    checkOutputDir(o.outputDir as string, '--output-dir');
    await convertAdapter(src as string, o.outputDir as string, o.to as AdapterFormat, { numLayers: o.numLayers as number | undefined });
    log(`wgrad: wrote ${o.outputDir} (${o.to === 'peft' ? 'PEFT' : 'mlx-lm'})`);
  },
};
