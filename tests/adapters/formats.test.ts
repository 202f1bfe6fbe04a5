// PEFT and mlx-lm adapter files: what is written, what loads, conversion between them, and the
// errors for files that cannot be loaded faithfully. References: adapters saved by Hugging Face
// PEFT 0.21 with its logits (fixtures/, made by fixtures/peft_reference.py), mlx-lm files built by
// hand from its documented layout, and the LoRA model the adapter came from.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import * as w from '../../engine/index.ts';
import {
  convertAdapter, loadAdapter, loraLayers, mergeLoRA, readAdapterFolder, saveAdapter,
} from '../../llm/adapters/index.ts';
import { readSafetensorsFile } from '../../llm/io/hf-weights.ts';
import { writeSafetensors } from '../../llm/io/safetensors.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { applyLoRA } from '../../engine/nn/apply-lora.ts';
import { haveAssets, skipNote } from '../io/shared-assets.ts';
import { baseModel, logitsOf, maxAbsDiff, randomLoRA, tempDirs } from './helpers.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const ok = haveAssets('models/stories260K-hf');
const backend = createCpuBackend();
const tmp = tempDirs('adapters');

type Json = Record<string, any>;
const readJson = (p: string): Json => JSON.parse(readFileSync(p, 'utf8'));
const writeJson = (p: string, v: unknown) => writeFileSync(p, JSON.stringify(v, null, 2));

/** Copies an adapter folder and edits its config. */
function editedCopy(src: string, edit: (c: Json) => void): string {
  const d = tmp();
  cpSync(src, d, { recursive: true });
  const c = readJson(join(d, 'adapter_config.json'));
  edit(c);
  writeJson(join(d, 'adapter_config.json'), c);
  return d;
}

/** Copies an adapter folder and rewrites its weights file through `edit`. */
async function editedWeights(src: string, file: string, edit: (t: { name: string; shape: number[]; data: Float32Array }[]) => void): Promise<string> {
  const d = tmp();
  cpSync(src, d, { recursive: true });
  const { tensors } = await readSafetensorsFile(join(d, file));
  const list = [...tensors.values()].map((t) => ({ name: t.name, shape: [...t.shape], data: t.data as Float32Array }));
  edit(list);
  writeFileSync(join(d, file), writeSafetensors(list));
  return d;
}

async function reference(name: string): Promise<{ ids: number[]; logits: Float32Array; merged: Float32Array }> {
  const { tensors } = await readSafetensorsFile(join(FIXTURES, name, 'reference.safetensors'));
  return {
    ids: Array.from(tensors.get('input_ids')!.data),
    logits: tensors.get('logits')!.data as Float32Array,
    merged: tensors.get('logits_merged')!.data as Float32Array,
  };
}

describe.skipIf(!ok)(`LoRA adapter files${skipNote(ok)}`, () => {
  // One LoRA model (q, v, down over layers 2..4 of 5) saved in both formats, shared by the tests.
  let peftDir = '', mlxDir = '';
  let loraLogits: Float32Array;
  const setup = (async () => {
    const model = await baseModel(backend);
    randomLoRA(model, { r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'v_proj', 'down_proj'], layers: [2, 4] });
    loraLogits = await logitsOf(model);
    peftDir = join(tmp(), 'peft');
    mlxDir = join(tmp(), 'mlx');
    await saveAdapter(model, peftDir, { format: 'peft', baseModel: 'stories260K-hf' });
    await saveAdapter(model, mlxDir, { format: 'mlx', baseModel: 'stories260K-hf' });
    return model;
  })();

  it('PEFT: writes adapter_config.json and adapter_model.safetensors as PEFT does', async () => {
    await setup;
    const c = readJson(join(peftDir, 'adapter_config.json'));
    expect(c).toMatchObject({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0.05, use_rslora: false,
      bias: 'none', fan_in_fan_out: false, init_lora_weights: true, use_dora: false, modules_to_save: null,
      base_model_name_or_path: 'stories260K-hf', layers_to_transform: [2, 3, 4], layers_pattern: null,
    });
    expect(c.target_modules).toEqual(['q_proj', 'v_proj', 'down_proj']);
    const { metadata, tensors } = await readSafetensorsFile(join(peftDir, 'adapter_model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.size).toBe(2 * 3 * 3);
    expect(tensors.get('base_model.model.model.layers.2.self_attn.q_proj.lora_A.weight')!.shape).toEqual([4, 64]);
    expect(tensors.get('base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight')!.shape).toEqual([32, 4]);
    expect(tensors.get('base_model.model.model.layers.4.mlp.down_proj.lora_A.weight')!.shape).toEqual([4, 172]);
    expect([...tensors.values()].every((t) => t.sourceDtype === 'F32')).toBe(true);
    // Atomic writes leave no temporary files behind.
    expect(readdirSync(peftDir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });

  it('PEFT: loading into the base model gives the LoRA model\'s logits; inference mode unless trainable', async () => {
    const source = await setup;
    const model = await baseModel(backend);
    const { format, layers } = await loadAdapter(model, peftDir);
    expect(format).toBe('peft');
    expect([...layers.keys()]).toEqual([...loraLayers(source).keys()]);
    expect(maxAbsDiff(await logitsOf(model), loraLogits)).toBeLessThanOrEqual(1e-5);
    for (const [, l] of layers) {
      expect(l.training).toBe(false);
      expect(l.lora_A.requiresGrad).toBe(false);
    }
    expect(model.parameters().some((p) => p.requiresGrad)).toBe(false);
    const trainable = await baseModel(backend);
    const t = await loadAdapter(trainable, peftDir, { trainable: true });
    const names = trainable.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
    expect(names.length).toBe(2 * t.layers.size);
    expect(names.every((n) => /lora_[AB]$/.test(n))).toBe(true);
    expect([...t.layers.values()].every((l) => l.training && l.config.dropout === 0.05)).toBe(true);
    await expect(loadAdapter(trainable, peftDir)).rejects.toThrow(/already has LoRA layers/);
  });

  for (const name of ['peft-rslora-layers', 'peft-all-linear']) {
    it(`PEFT: ${name}, saved by Hugging Face PEFT, gives PEFT's logits, merged and unmerged`, async () => {
      const ref = await reference(name);
      const model = await baseModel(backend);
      const { layers } = await loadAdapter(model, join(FIXTURES, name));
      expect(layers.size).toBe(name === 'peft-all-linear' ? 7 * 5 : 3 * 3);
      expect(maxAbsDiff(await logitsOf(model, ref.ids), ref.logits)).toBeLessThan(1e-4);
      mergeLoRA(model);
      expect(maxAbsDiff(await logitsOf(model, ref.ids), ref.merged)).toBeLessThan(1e-4);
    });
  }

  it('mlx-lm: writes lora_a [in, r] = Aᵀ and lora_b [r, out] = Bᵀ, num_layers from the end, scale = alpha/r', async () => {
    await setup;
    const c = readJson(join(mlxDir, 'adapter_config.json'));
    expect(c).toEqual({
      fine_tune_type: 'lora', num_layers: 3, model: 'stories260K-hf',
      lora_parameters: { rank: 4, scale: 2, dropout: 0.05, keys: ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.down_proj'] },
    });
    const mlx = await readSafetensorsFile(join(mlxDir, 'adapters.safetensors'));
    const peft = (await readSafetensorsFile(join(peftDir, 'adapter_model.safetensors'))).tensors;
    expect(mlx.metadata).toEqual({ format: 'mlx' });
    expect(mlx.tensors.size).toBe(18);
    const a = mlx.tensors.get('model.layers.3.mlp.down_proj.lora_a')!;
    const b = mlx.tensors.get('model.layers.3.mlp.down_proj.lora_b')!;
    const A = peft.get('base_model.model.model.layers.3.mlp.down_proj.lora_A.weight')!;
    const B = peft.get('base_model.model.model.layers.3.mlp.down_proj.lora_B.weight')!;
    expect(a.shape).toEqual([172, 4]);
    expect(b.shape).toEqual([4, 64]);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 172; j++) expect(a.data[j * 4 + i]).toBe(A.data[i * 172 + j]);
      for (let j = 0; j < 64; j++) expect(b.data[i * 64 + j]).toBe(B.data[j * 4 + i]);
    }
    const model = await baseModel(backend);
    expect((await loadAdapter(model, mlxDir)).format).toBe('mlx');
    expect(maxAbsDiff(await logitsOf(model), loraLogits)).toBeLessThanOrEqual(1e-5);
  });

  it('mlx-lm: refuses layers that are not the last N, naming them', async () => {
    const model = await baseModel(backend);
    randomLoRA(model, { r: 2, alpha: 4, targetModules: ['q_proj'], layers: [1, 3] });
    await expect(saveAdapter(model, join(tmp(), 'x'), { format: 'mlx' })).rejects.toThrow(/layers 1\.\.3 of a 5-layer model; mlx-lm's num_layers can only name the last N layers/);
    const gap = await baseModel(backend);
    randomLoRA(gap, { r: 2, alpha: 4, targetModules: ['q_proj'], layers: [0, 1] });
    randomLoRA(gap, { r: 2, alpha: 4, targetModules: ['q_proj'], layers: [4, 4] });
    await expect(saveAdapter(gap, join(tmp(), 'y'), { format: 'mlx' })).rejects.toThrow(/layers \[0,1,4\], which are not contiguous/);
    // PEFT can say both: a list of layers, and for modules that differ by layer, a regex naming each
    // module (PEFT fully matches target_modules strings against module names; so does this loader).
    const uneven = await baseModel(backend);
    randomLoRA(uneven, { r: 2, alpha: 4, targetModules: ['q_proj'], layers: [0, 1] });
    randomLoRA(uneven, { r: 2, alpha: 4, targetModules: ['v_proj'], layers: [4, 4] });
    for (const [model, target, layers] of [
      [gap, ['q_proj'], [0, 1, 4]],
      [uneven, 'model\\.layers\\.(?:0\\.self_attn\\.q_proj|1\\.self_attn\\.q_proj|4\\.self_attn\\.v_proj)', null],
    ] as const) {
      const d = join(tmp(), 'peft');
      await saveAdapter(model, d, { format: 'peft' });
      const c = readJson(join(d, 'adapter_config.json'));
      expect(c.target_modules).toEqual(target);
      expect(c.layers_to_transform).toEqual(layers);
      const back = await baseModel(backend);
      await loadAdapter(back, d);
      expect([...loraLayers(back).keys()]).toEqual([...loraLayers(model).keys()]);
      expect(maxAbsDiff(await logitsOf(back), await logitsOf(model))).toBeLessThanOrEqual(1e-5);
    }
  });

  it('mlx-lm: a hand-made adapters.safetensors loads as linear_to_lora_layers reads it (defaults, -1, lora_layers)', async () => {
    // Independent reference: applyLoRA on the same modules with the same A, B and scale.
    const r = 3, scale = 1.7;
    const cases: { cfg: Json; layers: number[]; keys: string[] }[] = [
      { cfg: { num_layers: 2, lora_parameters: { rank: r, scale, dropout: 0 } }, layers: [3, 4], keys: ['self_attn.q_proj', 'self_attn.v_proj'] },
      { cfg: { fine_tune_type: 'lora', num_layers: -1, lora_parameters: { rank: r, scale, dropout: 0, keys: ['mlp.up_proj'] } }, layers: [0, 1, 2, 3, 4], keys: ['mlp.up_proj'] },
      { cfg: { lora_layers: 1, lora_parameters: { rank: r, scale, dropout: 0, keys: ['self_attn.o_proj'] } }, layers: [4], keys: ['self_attn.o_proj'] },
    ];
    for (const { cfg, layers, keys } of cases) {
      const ref = await baseModel(backend);
      const wrapped = applyLoRA(ref, { r, alpha: 1, targetModules: keys.map((k) => k.split('.')[1]), layers: [layers[0], layers[layers.length - 1]] });
      const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
      let seed = 7;
      for (const [path, l] of wrapped) {
        const A = w.randn(l.lora_A.shape, { backend, seed: seed++ }), B = w.randn(l.lora_B.shape, { backend, seed: seed++ });
        l.lora_A.assign(w.mul(A, 0.3)); l.lora_B.assign(w.mul(B, 0.2)); l.scale = scale; l.training = false;
        tensors.push({ name: `${path}.lora_a`, shape: [l.lora_A.shape[1], r], data: (await w.transpose(l.lora_A).data()) as Float32Array });
        tensors.push({ name: `${path}.lora_b`, shape: [r, l.lora_B.shape[0]], data: (await w.transpose(l.lora_B).data()) as Float32Array });
      }
      const d = tmp();
      writeFileSync(join(d, 'adapters.safetensors'), writeSafetensors(tensors, { metadata: { format: 'mlx' } }));
      writeJson(join(d, 'adapter_config.json'), { model: 'x', seed: 0, batch_size: 4, ...cfg });
      const model = await baseModel(backend);
      const { layers: got } = await loadAdapter(model, d);
      expect([...got.keys()].sort()).toEqual([...wrapped.keys()].sort());
      expect([...got.values()].every((l) => l.scale === scale)).toBe(true);
      expect(maxAbsDiff(await logitsOf(model), await logitsOf(ref))).toBeLessThanOrEqual(1e-5);
    }
  });

  it('conversion PEFT → mlx-lm → PEFT (files only) keeps PEFT\'s logits', async () => {
    const src = join(FIXTURES, 'peft-rslora-layers');
    const ref = await reference('peft-rslora-layers');
    // layers_to_transform [2, 3, 4]: only the base model's depth says whether those are the last ones.
    await expect(convertAdapter(src, join(tmp(), 'no'), 'mlx')).rejects.toThrow(/cannot tell whether layers 2\.\.4 are the model's last layers.*pass numLayers/);
    await expect(convertAdapter(src, join(tmp(), 'no'), 'mlx', { numLayers: 7 })).rejects.toThrow(/layers 2\.\.4 of a 7-layer model/);
    const mlx = join(tmp(), 'mlx');
    await convertAdapter(src, mlx, 'mlx', { numLayers: 5 });
    const c = readJson(join(mlx, 'adapter_config.json'));
    expect(c.num_layers).toBe(3);
    expect(c.lora_parameters).toEqual({ rank: 4, scale: 6 / Math.sqrt(4), dropout: 0.1, keys: ['self_attn.q_proj', 'self_attn.k_proj', 'mlp.down_proj'] });
    const back = join(tmp(), 'peft');
    await convertAdapter(mlx, back, 'peft');
    const p = readJson(join(back, 'adapter_config.json'));
    expect(p).toMatchObject({ r: 4, lora_alpha: 12, use_rslora: false, lora_dropout: 0.1, layers_to_transform: [2, 3, 4], target_modules: ['q_proj', 'k_proj', 'down_proj'] });
    const logits: Float32Array[] = [];
    for (const d of [src, mlx, back]) {
      const model = await baseModel(backend);
      await loadAdapter(model, d);
      logits.push(await logitsOf(model, ref.ids));
    }
    expect(maxAbsDiff(logits[0], ref.logits)).toBeLessThan(1e-4);
    expect(maxAbsDiff(logits[1], logits[0])).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(logits[2], logits[0])).toBeLessThanOrEqual(1e-5);
  });

  it('conversion of an all-layers adapter needs no layer count; dtype and values survive', async () => {
    const src = join(FIXTURES, 'peft-all-linear');
    const mlx = join(tmp(), 'mlx');
    await convertAdapter(src, mlx, 'mlx');
    const c = readJson(join(mlx, 'adapter_config.json'));
    expect(c.num_layers).toBe(5);
    expect(c.lora_parameters.keys).toHaveLength(7);
    const peft = join(tmp(), 'peft');
    await convertAdapter(mlx, peft, 'peft');
    expect(readJson(join(peft, 'adapter_config.json')).layers_to_transform).toBeNull();
    const a = (await readSafetensorsFile(join(src, 'adapter_model.safetensors'))).tensors;
    const b = (await readSafetensorsFile(join(peft, 'adapter_model.safetensors'))).tensors;
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, t] of a) expect(Array.from(b.get(k)!.data)).toEqual(Array.from(t.data));
    await expect(convertAdapter(src, mlx, 'peft')).rejects.toThrow(/already holds adapters\.safetensors/);
  });

  it('refuses missing files, pickles and folders holding both formats', async () => {
    await setup;
    await expect(loadAdapter(await baseModel(backend), join(tmp(), 'nope'))).rejects.toThrow(/does not exist/);
    const empty = tmp();
    await expect(readAdapterFolder(empty)).rejects.toThrow(/has no adapter_config\.json/);
    const noWeights = tmp();
    cpSync(join(peftDir, 'adapter_config.json'), join(noWeights, 'adapter_config.json'));
    await expect(readAdapterFolder(noWeights)).rejects.toThrow(/neither adapter_model\.safetensors \(PEFT\) nor adapters\.safetensors/);
    writeFileSync(join(noWeights, 'adapter_model.bin'), new Uint8Array(8));
    await expect(readAdapterFolder(noWeights)).rejects.toThrow(/adapter_model\.bin \(a PyTorch pickle\)/);
    const both = tmp();
    cpSync(peftDir, both, { recursive: true });
    cpSync(join(mlxDir, 'adapters.safetensors'), join(both, 'adapters.safetensors'));
    await expect(readAdapterFolder(both)).rejects.toThrow(/holds both/);
  });

  it('refuses unknown keys, missing weights and shape mismatches, naming the key and both shapes', async () => {
    await setup;
    const W = 'adapter_model.safetensors';
    const cases: [string, RegExp][] = [
      [await editedWeights(peftDir, W, (ts) => ts.push(
        { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [4, 64], data: new Float32Array(256) },
        { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', shape: [64, 4], data: new Float32Array(256) },
      )),
        /adapter_model\.safetensors: .*layers\.0\.self_attn\.q_proj\.lora_A\.weight is outside layers_to_transform \[2,3,4\]/],
      [await editedWeights(peftDir, W, (ts) => ts.push({ name: 'base_model.model.model.layers.2.self_attn.q_proj.lora_magnitude_vector', shape: [64], data: new Float32Array(64) })),
        /unknown key\(s\) base_model\.model\.model\.layers\.2\.self_attn\.q_proj\.lora_magnitude_vector \(DoRA magnitudes/],
      [await editedWeights(peftDir, W, (ts) => ts.push({ name: 'base_model.model.model.layers.2.self_attn.k_proj.lora_A.weight', shape: [4, 64], data: new Float32Array(256) })),
        /has no matching base_model\.model\.model\.layers\.2\.self_attn\.k_proj\.lora_B\.weight/],
      [await editedWeights(peftDir, W, (ts) => ts.splice(ts.findIndex((t) => t.name.includes('layers.3.self_attn.v_proj')), 2)),
        /no weights for model\.layers\.3\.self_attn\.v_proj, which the adapter config targets/],
      [await editedWeights(peftDir, W, (ts) => {
        const t = ts.find((x) => x.name === 'base_model.model.model.layers.2.self_attn.q_proj.lora_A.weight')!;
        t.shape = [4, 32]; t.data = t.data.slice(0, 128);
      }), /base_model\.model\.model\.layers\.2\.self_attn\.q_proj\.lora_A\.weight has shape \[4, 32\], the model expects \[4, 64\]/],
      [await editedWeights(mlxDir, 'adapters.safetensors', (ts) => {
        const t = ts.find((x) => x.name === 'model.layers.4.self_attn.v_proj.lora_b')!;
        t.shape = [4, 64]; t.data = new Float32Array(256);
      }), /model\.layers\.4\.self_attn\.v_proj\.lora_b has shape \[4, 64\], the model expects \[4, 32\]/],
      [await editedWeights(mlxDir, 'adapters.safetensors', (ts) => ts.push({ name: 'lm_head.lora_a', shape: [64, 4], data: new Float32Array(256) })),
        /adapters\.safetensors: unknown key\(s\) lm_head\.lora_a/],
    ];
    for (const [dir, re] of cases) await expect(loadAdapter(await baseModel(backend), dir)).rejects.toThrow(re);
    // A model of another depth: the mlx-lm adapter's last blocks are not this model's last blocks.
    const deeper = new LlamaForCausalLM({ ...(await baseModel(backend)).config, numLayers: 4 }, { backend });
    await expect(loadAdapter(deeper, mlxDir)).rejects.toThrow(/unknown key\(s\) model\.layers\.4\./);
  });

  it('refuses options it cannot honour rather than ignoring them', async () => {
    await setup;
    const peftCases: [(c: Json) => void, RegExp][] = [
      [(c) => { c.use_dora = true; }, /use_dora: DoRA adapters are not supported/],
      [(c) => { c.modules_to_save = ['lm_head']; }, /modules_to_save: \["lm_head"\]: fully trained modules are not supported/],
      [(c) => { c.bias = 'all'; }, /bias: "all" is not supported/],
      [(c) => { c.init_lora_weights = 'pissa'; }, /init_lora_weights: "pissa" modifies the base model's weights/],
      [(c) => { c.rank_pattern = { q_proj: 8 }; }, /rank_pattern: per-module ranks are not supported/],
      [(c) => { c.peft_type = 'IA3'; }, /peft_type: "IA3" is not supported/],
      [(c) => { c.task_type = 'SEQ_CLS'; }, /task_type: "SEQ_CLS" is not supported/],
      [(c) => { c.arrow_config = { top_k: 2 }; }, /arrow_config: is set to .*an option this loader does not know/],
      [(c) => { c.target_modules = ['embed_tokens']; c.layers_to_transform = null; }, /selects model\.embed_tokens \(Embedding\); LoRA is supported on Linear modules only/],
      [(c) => { c.target_modules = ['qkv']; }, /target_modules \["qkv"\] with layers_to_transform \[2,3,4\] matches no module/],
    ];
    for (const [edit, re] of peftCases) await expect(loadAdapter(await baseModel(backend), editedCopy(peftDir, edit))).rejects.toThrow(re);
    const mlxCases: [(c: Json) => void, RegExp][] = [
      [(c) => { c.fine_tune_type = 'dora'; }, /fine_tune_type: DoRA adapters are not supported/],
      [(c) => { c.fine_tune_type = 'full'; }, /"full" holds fine-tuned layers/],
      [(c) => { c.lora_parameters.keys = ['lm_head']; }, /keys: "lm_head" not supported/],
      [(c) => { c.num_layers = 2; }, /does not match num_layers=2 and keys/],
      [(c) => { delete c.num_layers; }, /num_layers: must be an integer/],
    ];
    for (const [edit, re] of mlxCases) await expect(loadAdapter(await baseModel(backend), editedCopy(mlxDir, edit))).rejects.toThrow(re);
    // The refusals happen before the model is touched.
    const model = await baseModel(backend);
    await expect(loadAdapter(model, editedCopy(peftDir, (c) => { c.use_dora = true; }))).rejects.toThrow();
    expect(loraLayers(model).size).toBe(0);
    expect(existsSync(join(peftDir, 'adapter_config.json'))).toBe(true);
  });
});
