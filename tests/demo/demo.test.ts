// The main job's pipeline end to end at a few steps per stage (the full run is `npm start`): every
// stage trains, the accuracies are shares, the Q/A adapter lands in both formats and the DPO and
// RLVR stages log TRL's metrics. The learning itself is shown by `npm start` and checked by the method tests.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { runDemo } from '../../llm/demo/pipeline.ts';
import { EDITING_SETTINGS } from '../../llm/demo/editing.ts';

const out = mkdtempSync(join(tmpdir(), 'wgrad-demo-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('wgrad demo pipeline', () => {
  it('runs pretrain, LoRA, DPO, RLVR and editing stages and writes adapters and metrics', async () => {
    // One abliteration setting instead of the demo's search over six: the same code path, a sixth of the generations.
    Object.assign(EDITING_SETTINGS.abliteration, { lambdas: [1], weights: [[0.5, 1.5]] });
    const r = await runDemo({ outputDir: out, backend: createCpuBackend(), pretrainSteps: 3, loraSteps: 2, dpoSteps: 2, dpoPairs: 8, batchSize: 8, rlvrSteps: 2, editingSteps: 2 });
    for (const x of [r.pretrain.before, r.pretrain.after, r.lora.before, r.lora.after, r.dpo.after]) expect(x).toBeGreaterThanOrEqual(0);
    expect(r.dpo.pairs).toBe(8);
    const e = r.editing!;
    // Refusal and accuracy are counts over the same 200 held-out questions, with their intervals.
    for (const x of [e.refusal.sftAfter, e.refusal.abliterated, e.accuracy.afterSft, e.accuracy.abliterated, ...e.steering.map((s) => s.plainRefusal)]) {
      expect(x.n).toBe(200);
      expect(x.low).toBeLessThanOrEqual(x.rate);
      expect(x.high).toBeGreaterThanOrEqual(x.rate);
    }
    // The paired counts add up: right after = right before − lost + gained.
    for (const c of [e.accuracy.sft, e.accuracy.abliteration]) expect(c.after).toBe(c.before - c.lost + c.gained);
    expect(e.accuracy.abliteration.before).toBe(e.accuracy.afterSft.k);
    expect(e.steering.map((s) => s.strength)).toEqual([0, 0.5, 1]);
    // Strength 0 changes nothing: every completion is the unsteered model's.
    expect(e.steering[0].unchanged).toBe(true);
    expect(e.steering[0].plainRefusal.k).toBe(e.refusal.plainAfterSft.k);
    for (const f of ['adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'adapter-mlx/adapters.safetensors', 'adapter-mlx/adapter_config.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const dpo = readFileSync(join(out, 'metrics-dpo.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(dpo).toHaveLength(2);
    expect(dpo[0]['rewards/margins']).toBeCloseTo(0, 6); // step 1: fresh adapter, policy = reference
    expect(Object.keys(dpo[0])).toEqual(expect.arrayContaining(['rewards/accuracies', 'logps/chosen', 'nll_loss']));
    // RLVR: GRPO with the accuracy verifier, TRL's metric names.
    // Its before/after are paired counts over the same 200 held-out questions, consistent with the shares.
    const ch = r.rlvr!.change;
    expect(ch.n).toBe(200);
    expect(ch.after).toBe(ch.before - ch.lost + ch.gained);
    expect(r.rlvr!.before).toBe(ch.before / 200);
    expect(r.rlvr!.before).toBe(r.dpo.after);
    expect(r.rlvr!.after).toBe(ch.after / 200);
    const rlvr = readFileSync(join(out, 'metrics-rlvr.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rlvr).toHaveLength(2);
    expect(Object.keys(rlvr[0])).toEqual(expect.arrayContaining(['reward', 'rewards/accuracy/mean', 'frac_reward_zero_std', 'clip_ratio/region_mean']));
  }, 240_000); // ~47 s in the full suite on 2 cores: a third of the limit leaves room for a busy machine
});
