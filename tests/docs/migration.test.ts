// docs/migration.md's wgrad column is one program: its ```ts blocks, in order, are extracted here and
// run on the cpu backend with stories260K, so the guide cannot drift from the API. Only the model
// folder ('stories260K-hf') and the output folder ('out/') are replaced by real paths, and the
// package imports ('wgrad', 'wgrad/llm') by this checkout's entry points. The program must train
// (its loss falls), evaluate, and write adapters that load back as PEFT and mlx-lm folders.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { asset, haveAssets } from '../io/shared-assets.ts';

const root = resolve(import.meta.dirname, '..', '..');
const MODEL = 'models/stories260K-hf';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-migration-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ```ts blocks of a markdown text, in order. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

describe.skipIf(!haveAssets(MODEL))('docs/migration.md', () => {
  const doc = readFileSync(join(root, 'docs', 'migration.md'), 'utf8');

  it('has the seven steps with the three columns each', () => {
    const sections = doc.split(/^## /m).slice(1);
    expect(sections.map((s) => s.split('\n')[0])).toEqual([
      '1. Load a model and its tokenizer', '2. Add LoRA', '3. The loss', '4. The loss and its gradients', '5. The optimizer update', '6. Evaluate', '7. Save the adapter',
    ]);
    for (const s of sections) {
      expect((s.match(/^```python$/gm) ?? []).length, s.split('\n')[0]).toBe(2);
      expect((s.match(/^```ts$/gm) ?? []).length, s.split('\n')[0]).toBe(1);
    }
  });

  it('the wgrad column runs as one program: the loss falls, eval runs, both adapter folders are written', async () => {
    const out = join(tmp, 'out');
    let program = tsBlocks(doc).join('\n');
    expect(program).toContain("from 'wgrad'");
    program = program
      .replace(/from 'wgrad'/g, `from ${JSON.stringify(join(root, 'engine', 'index.ts'))}`)
      .replace(/from 'wgrad\/llm'/g, `from ${JSON.stringify(join(root, 'llm', 'index.ts'))}`)
      .replace(/'stories260K-hf'/g, JSON.stringify(asset(MODEL)))
      .replace(/'out\//g, `'${out}/`);
    program += '\nexport const results = { losses, evalLoss, trainable: trainable.size };\n';
    const file = join(root, 'tests', 'docs', `.migration-program-${process.pid}.ts`);
    writeFileSync(file, program);
    const logs: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a) => { logs.push(a.join(' ')); });
    let results: { losses: number[]; evalLoss: number; trainable: number };
    try {
      ({ results } = await import(pathToFileURL(file).href));
    } finally {
      rmSync(file, { force: true });
      vi.restoreAllMocks();
    }
    // stories260K has 5 layers: q_proj and v_proj each get lora_A and lora_B.
    expect(results.trainable).toBe(5 * 2 * 2);
    expect(results.losses.length).toBe(20);
    const first = results.losses[0], last = results.losses[results.losses.length - 1];
    expect(last).toBeLessThan(first * 0.8);
    expect(Number.isFinite(results.evalLoss)).toBe(true);
    expect(logs.some((l) => /^loss [\d.]+ → [\d.]+$/.test(l))).toBe(true);
    for (const f of ['adapter/adapter_model.safetensors', 'adapter/adapter_config.json', 'adapter-mlx/adapters.safetensors', 'adapter-mlx/adapter_config.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const peft = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(peft).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16 });
  }, 60_000);
});
