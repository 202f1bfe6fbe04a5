// wgrad merge: fold a LoRA adapter into its base model and write a Hugging Face folder (PEFT's
// merge_and_unload + save_pretrained, mlx_lm.fuse).
import { copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { exportHfFolder, loadAdapter, mergeLoRA, type ExportDtype } from '../../llm/adapters/index.ts';
import { choice, log, UsageError, type CommandSpec } from '../args.ts';
import { openBackend } from '../backend.ts';
import { loadModelAndTokenizer } from '../load.ts';
import { backendFlags, modelFlags } from '../options.ts';
import { checkOutputDir } from '../output-dir.ts';

export const mergeSpec: CommandSpec = {
  name: 'merge',
  summary: 'fold a LoRA adapter into the base model and write a Hugging Face folder',
  flags: [
    ...modelFlags,
    { flags: '--adapter <dir>', help: 'the LoRA adapter folder, PEFT or mlx-lm (detected)', aliases: ['--adapter-path'] },
    { flags: '--output-dir <dir>', help: 'where to write config.json, model.safetensors and the tokenizer', aliases: ['--save-path'] },
    { flags: '--dtype <t>', help: 'storage dtype of model.safetensors: F32 | F16 | BF16', default: 'F32', parse: (raw, flag) => choice(['F32', 'F16', 'BF16'] as const)(raw.toUpperCase(), flag) },
    ...backendFlags,
  ],
  after: 'example: wgrad merge --model stories260K-hf --adapter out/adapter --output-dir merged',
  run: async (o) => {
    const adapter = o.adapter as string | undefined, out = o.outputDir as string | undefined;
    if (!adapter) throw new UsageError('--adapter is required (a PEFT or mlx-lm adapter folder)');
    if (!out) throw new UsageError('--output-dir is required');
    checkOutputDir(out, '--output-dir');
    const backend = await openBackend(o);
    try {
      const { model, paths } = await loadModelAndTokenizer(o, backend);
      const a = await loadAdapter(model, adapter);
      mergeLoRA(model);
      await exportHfFolder(model, out, { tokenizerFrom: paths.format === 'hf' ? paths.model : undefined, dtype: o.dtype as ExportDtype });
      // A llama2.c model's tokenizer is a file beside it; loadTokenizer reads it from the folder too.
      if (paths.format === 'llama2c') copyFileSync(paths.tokenizer, join(out, basename(paths.tokenizer).endsWith('.json') ? 'tokenizer.json' : 'tokenizer.bin'));
      log(`wgrad: merged the ${a.format === 'peft' ? 'PEFT' : 'mlx-lm'} adapter ${adapter} (${a.layers.size} modules) into ${paths.model}; wrote ${out}`);
      model.dispose();
    } finally {
      backend.destroy();
    }
  },
};
