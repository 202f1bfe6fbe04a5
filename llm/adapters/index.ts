// LoRA adapters in and out: PEFT and mlx-lm formats, conversion between them, merging into the
// base weights and exporting a Hugging Face folder. The by-path functions need Node or Deno; the
// in-memory readers and writers (parsePeft/writePeft, parseMlx/writeMlx, hfWeights) run anywhere.
export { saveAdapter, loadAdapter, convertAdapter, exportHfFolder, readAdapterFolder, TOKENIZER_FILES } from './files.ts';
export type { SaveAdapterOptions, LoadAdapterOptions, ConvertAdapterOptions, ExportHfOptions } from './files.ts';
export { mergeLoRA } from './merge.ts';
export { adapterFromModel, loadIntoModel, toAdapter } from './adapter.ts';
export type { AdapterFormat, LoRAAdapter, LoRAHyper, ParsedAdapter } from './adapter.ts';
export { parsePeft, writePeft, peftConfig, peftKey, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from './peft.ts';
export { parseMlx, writeMlx, mlxConfig, mlxKey, MLX_CONFIG_FILE, MLX_WEIGHTS_FILE } from './mlx.ts';
export { hfConfigJson, hfConfigFromBase, hfWeights } from './hf-export.ts';
export type { ExportDtype } from './hf-export.ts';
export { loraLayers, countLayers } from './layers.ts';
