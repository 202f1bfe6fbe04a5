// Export: the toolkit's own writers (saveAdapter, exportHfFolder) write into the in-memory file
// system under /export, exactly the folders `wgrad train` writes, and the folder is zipped
// (fflate) for the page to download.
import { zipSync } from 'fflate';
import { exportHfFolder, loadAdapter, loadLlama, loraLayers, mergeLoRA, saveAdapter, type FileSystem, type LlamaForCausalLM } from '../../../llm/index.ts';
import type { Backend } from '../../../engine/index.ts';
import { MODEL_DIR } from './model.ts';

const EXPORT_DIR = '/export';

export type ExportKind = 'adapter' | 'merged';

async function collect(fs: FileSystem, dir: string, prefix: string, out: Record<string, Uint8Array>): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    const p = `${dir}/${name}`;
    if ((await fs.stat(p))?.kind === 'directory') await collect(fs, p, `${prefix}${name}/`, out);
    else out[`${prefix}${name}`] = await fs.readFile(p);
  }
}

/**
 * adapter: adapter/ (PEFT), adapter-mlx/ (mlx-lm), metrics.jsonl, config.yaml.
 * merged: model/ (the base with the adapter folded in, a Hugging Face folder), metrics.jsonl, config.yaml.
 */
export async function exportZip(fs: FileSystem, kind: ExportKind, model: LlamaForCausalLM, backend: Backend, extra: { metrics: Uint8Array | null; config: string; baseModel: string }): Promise<Uint8Array> {
  await fs.rm(EXPORT_DIR);
  await fs.mkdir(EXPORT_DIR);
  if (!loraLayers(model).size) {
    // Full fine-tuning: the trained model itself is the export.
    await exportHfFolder(model, `${EXPORT_DIR}/model`, { tokenizerFrom: MODEL_DIR });
  } else if (kind === 'adapter') {
    await saveAdapter(model, `${EXPORT_DIR}/adapter`, { format: 'peft', baseModel: extra.baseModel });
    await saveAdapter(model, `${EXPORT_DIR}/adapter-mlx`, { format: 'mlx', baseModel: extra.baseModel });
  } else {
    // The adapter folded into a fresh copy of the base, so the model in training keeps its adapter.
    await saveAdapter(model, '/merge-adapter', { format: 'peft', baseModel: extra.baseModel });
    const { model: fresh } = await loadLlama(MODEL_DIR, { backend });
    try {
      await loadAdapter(fresh, '/merge-adapter');
      mergeLoRA(fresh);
      await exportHfFolder(fresh, `${EXPORT_DIR}/model`, { tokenizerFrom: MODEL_DIR });
    } finally {
      fresh.dispose();
      await fs.rm('/merge-adapter');
    }
  }
  if (extra.metrics) await fs.writeFile(`${EXPORT_DIR}/metrics.jsonl`, extra.metrics);
  await fs.writeFile(`${EXPORT_DIR}/config.yaml`, extra.config);
  const files: Record<string, Uint8Array> = {};
  await collect(fs, EXPORT_DIR, '', files);
  await fs.rm(EXPORT_DIR);
  return zipSync(files, { level: 6 });
}
