// Merging LoRA into the base weights (W + s·B·A) and exporting a Hugging Face folder: the merged
// model computes what the unmerged one does (within f32 rounding), the folder reloads through
// loadLlama to the same logits, tied embeddings stay tied, tokenizer files come along.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { exportHfFolder, loadAdapter, loraLayers, mergeLoRA, saveAdapter } from '../../llm/adapters/index.ts';
import { readSafetensorsFile } from '../../llm/io/hf-weights.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';
import { testBackends } from '../setup/backends.ts';
import { BIN, HF, baseModel, logitsOf, maxAbsDiff, randomLoRA, tempDirs } from './helpers.ts';

const ok = haveAssets(HF, BIN);
const tmp = tempDirs('merge');

/**
 * |diff| allowed between two f32 evaluations of the same logits in different orders (x·Wᵀ + s·(x·Aᵀ)·Bᵀ
 * against x·(W + s·B·A)ᵀ): 1e-5 relative to the largest logit. A wrong merge (scale, transpose, a
 * missed layer) moves logits by 0.1 to 10.
 */
function tolerance(ref: Float32Array): number {
  return 1e-5 * Math.max(1, ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
}

for (const { name, get } of testBackends().filter((b) => b.name !== 'cpu-f64')) {
  describe.skipIf(!ok)(`merge and HF export on ${name}${skipNote(ok)}`, () => {
    it('merged and unmerged give the same logits; the exported folder reloads to them, tied and with its tokenizer', async () => {
      const backend = await get();
      const model = await baseModel(backend);
      const before = await logitsOf(model);
      const baseNames = model.namedParameters().map(([n]) => n);
      randomLoRA(model, { r: 4, alpha: 8, targetModules: ['all-linear'], layers: [1, 4] });
      const unmerged = await logitsOf(model);
      expect(maxAbsDiff(unmerged, before)).toBeGreaterThan(0.5); // the adapter matters

      expect(mergeLoRA(model)).toBe(model);
      expect(loraLayers(model).size).toBe(0);
      expect(model.namedParameters().map(([n]) => n)).toEqual(baseNames);
      const merged = await logitsOf(model);
      expect(maxAbsDiff(merged, unmerged)).toBeLessThanOrEqual(tolerance(unmerged));

      const dir = join(tmp(), 'merged');
      const { files } = await exportHfFolder(model, dir, { tokenizerFrom: asset(HF) });
      expect(readdirSync(dir).sort()).toEqual([...files].sort());
      expect(files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']));
      expect(readFileSync(join(dir, 'tokenizer.json'))).toEqual(readFileSync(asset(`${HF}/tokenizer.json`)));
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(config).toMatchObject({ model_type: 'llama', tie_word_embeddings: true, num_hidden_layers: 5, dtype: 'float32' });
      const { metadata, tensors } = await readSafetensorsFile(join(dir, 'model.safetensors'));
      expect(metadata).toEqual({ format: 'pt' });
      expect(tensors.has('lm_head.weight')).toBe(false); // tied: stored once, as transformers does
      expect([...tensors.keys()].sort()).toEqual([...baseNames].sort());

      const reloaded = (await loadLlama(dir, { backend })).model;
      expect(reloaded.lm_head).toBeNull();
      expect(reloaded.config.tieWordEmbeddings).toBe(true);
      expect(maxAbsDiff(await logitsOf(reloaded), merged)).toBeLessThanOrEqual(tolerance(merged));
      model.dispose();
      reloaded.dispose();
    });

    it('an adapter saved by Hugging Face PEFT loads and gives PEFT\'s logits, merged and unmerged', async () => {
      const backend = await get();
      const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'peft-all-linear');
      const { tensors } = await readSafetensorsFile(join(fixture, 'reference.safetensors'));
      const ids = Array.from(tensors.get('input_ids')!.data);
      const model = await baseModel(backend);
      await loadAdapter(model, fixture);
      expect(maxAbsDiff(await logitsOf(model, ids), tensors.get('logits')!.data)).toBeLessThan(1e-4);
      mergeLoRA(model);
      expect(maxAbsDiff(await logitsOf(model, ids), tensors.get('logits_merged')!.data)).toBeLessThan(1e-4);
      model.dispose();
    });
  });
}

describe.skipIf(!ok)(`HF export details${skipNote(ok)}`, () => {
  it('a llama2.c model exports with a config.json built from its LlamaConfig; bf16 storage; clear refusals', async () => {
    const backend = createCpuBackend();
    const model = (await loadLlama(asset(BIN), { backend })).model;
    randomLoRA(model, { r: 2, alpha: 2, targetModules: ['q_proj', 'o_proj'] });
    await expect(exportHfFolder(model, join(tmp(), 'x'))).rejects.toThrow(/still has LoRA layers .*merge them first/);
    await saveAdapter(model, join(tmp(), 'kept'), { format: 'peft' }); // the adapter can still be saved
    mergeLoRA(model);
    expect(() => mergeLoRA(model)).toThrow(/no LoRA layers/);
    const merged = await logitsOf(model);

    const dir = join(tmp(), 'bin-export');
    await exportHfFolder(model, dir);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 172,
      num_hidden_layers: 5, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 8, vocab_size: 512,
      tie_word_embeddings: true, torch_dtype: 'float32', attention_bias: false,
    });
    const reloaded = (await loadLlama(dir, { backend })).model;
    expect(maxAbsDiff(await logitsOf(reloaded), merged)).toBeLessThanOrEqual(tolerance(merged));

    const bf16 = join(tmp(), 'bf16');
    await exportHfFolder(model, bf16, { tokenizerFrom: asset(HF), dtype: 'BF16' });
    expect(JSON.parse(readFileSync(join(bf16, 'config.json'), 'utf8')).dtype).toBe('bfloat16');
    const { tensors } = await readSafetensorsFile(join(bf16, 'model.safetensors'));
    expect([...tensors.values()].every((t) => t.sourceDtype === 'BF16')).toBe(true);
    // bf16 keeps 8 bits of mantissa: the logits move, but only a little.
    const half = await logitsOf((await loadLlama(bf16, { backend })).model);
    expect(maxAbsDiff(half, merged)).toBeLessThan(0.5);

    // A config.json that does not describe the model is refused, as is a folder without a tokenizer.
    const wrong = join(tmp(), 'wrong');
    mkdirSync(wrong);
    writeFileSync(join(wrong, 'config.json'), JSON.stringify({ ...config, hidden_size: 128, head_dim: 16 }));
    await expect(exportHfFolder(model, join(tmp(), 'y'), { configFrom: wrong })).rejects.toThrow(/hiddenSize is 128 but the model's is 64/);
    await expect(exportHfFolder(model, join(tmp(), 'y'), { tokenizerFrom: wrong, configFrom: false })).rejects.toThrow(/has no tokenizer files/);
  });
});
