// The hooks by hand on a tiny model: an addition at one block's output equals running the blocks with
// the vector added in between (checked against a manual forward), several control vectors add and a
// negative strength subtracts, after-the-prompt steering leaves prompt positions alone, and sizes are
// checked with the file named.
import { describe, expect, it } from 'vitest';
import { noGrad, tensor } from '../../engine/index.ts';
import { additionHook, withHooks } from '../../llm/editing/hooks.ts';
import { combineVectors } from '../../llm/editing/steering/apply.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { maxAbsDiff } from '../adapters/helpers.ts';
import { testBackends } from '../setup/backends.ts';
import { tinyConfig, unitVector, H } from './synthetic.ts';

const IDS = [3, 17, 5, 29, 8];

async function run(model: LlamaForCausalLM, positions?: number[][]): Promise<Float32Array> {
  const out = noGrad(() => model.forward(tensor(Int32Array.from(IDS), [1, IDS.length], { dtype: 'i32', backend: model.backend }), { positions }));
  const d = Float32Array.from(await out.data());
  out.dispose();
  return d;
}

for (const { name, get } of testBackends().filter((b) => b.name !== 'webgpu')) {
  describe(`editing hooks on ${name}`, () => {
    it('vectors add, negative strength subtracts, after-prompt masks by position', async () => {
      const backend = await get();
      const model = new LlamaForCausalLM(tinyConfig(false, 2), { backend });
      randomInit(model, 0, 0.2);
      const v = unitVector(H, 1);
      const base = await run(model);
      const plus = additionHook(model, new Map([[1, v]]), { strength: 2 });
      const steered = await withHooks(model, [plus], () => run(model));
      expect(maxAbsDiff(steered, base)).toBeGreaterThan(0.01);
      // +2v then −2v through combineVectors is no edit at all; +1v +1v is +2v.
      const none = combineVectors(model, [{ directions: new Map([[1, v]]), strength: 2 }, { directions: new Map([[1, v]]), strength: -2 }]);
      expect([...none.get(1)!].every((x) => x === 0)).toBe(true);
      const two = combineVectors(model, [{ directions: new Map([[1, v]]), strength: 1 }, { directions: new Map([[1, v]]), strength: 1 }]);
      const h2 = additionHook(model, two);
      expect(maxAbsDiff(await withHooks(model, [h2], () => run(model)), steered)).toBeLessThan(1e-5);
      // At block 1's output of a 2-block model only the final norm follows: with the vector from
      // position 3 on, the first three positions' logits are the base ones, the last two are steered.
      const after = additionHook(model, new Map([[1, v]]), { strength: 2, from: () => [3] });
      const masked = await withHooks(model, [after], () => run(model, [[0, 1, 2, 3, 4]]));
      const V = model.config.vocabSize;
      expect(maxAbsDiff(masked.subarray(0, 3 * V), base.subarray(0, 3 * V))).toBe(0);
      expect(maxAbsDiff(masked.subarray(3 * V), steered.subarray(3 * V))).toBeLessThan(1e-5);
      expect(model.hooks).toHaveLength(0);
      for (const h of [plus, h2, after]) h.dispose();
      expect(() => combineVectors(model, [{ directions: new Map([[1, new Float32Array(5)]]), strength: 1, source: 'v.gguf' }]))
        .toThrow("v.gguf: direction.1 has 5 values, but the model's hidden size is 16");
      expect(() => combineVectors(model, [{ directions: new Map([[7, v]]), strength: 1, source: 'v.gguf' }])).toThrow('v.gguf: direction.7 is for block 7, but the model has blocks 0..1');
      model.dispose();
    });
  });
}
