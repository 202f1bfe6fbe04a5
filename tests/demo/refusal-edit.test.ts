// The demo's abliteration edit (llm/demo/refusal-edit.ts) on a tiny random Llama: the direction is
// the refusing − plain mean of the last block's attention output, and the edit scales every
// attention output's component along it by (1 − the block's weight) while the MLP writers and the
// original model stay as they were.
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import type { Linear } from '../../engine/index.ts';
import { captureResidual } from '../../llm/editing/capture.ts';
import { rowMean, unit } from '../../llm/editing/linalg.ts';
import { randomInit } from '../../llm/models/llama/init.ts';
import { LlamaForCausalLM } from '../../llm/models/llama/model.ts';
import { applyRefusalEdit, attentionRefusalDirections, blockKernel } from '../../llm/demo/refusal-edit.ts';
import { tinyConfig, H } from '../editing/synthetic.ts';

const refusing = [[1, 5, 9, 3, 3, 7], [2, 6, 3, 3, 7], [4, 8, 10, 3, 3, 7]];
const plain = [[1, 5, 9, 3, 7], [2, 6, 3, 7], [4, 8, 10, 3, 7]];

describe('demo refusal edit', () => {
  it('direction = mean difference at the last attention output; the edit scales each block\'s attention write along it by 1 − weight', async () => {
    const backend = createCpuBackend();
    const model = new LlamaForCausalLM(tinyConfig(true, 2), { backend });
    randomInit(model, 3, 0.2);
    const [d] = await attentionRefusalDirections(model, refusing, plain, [-1]);
    const spec = { layers: [0, 1], point: 'attn_output' as const, offsets: [-1, -2], batchSize: 8 };
    const before = await captureResidual(model, refusing, spec);
    // Independent mean difference from the captured rows.
    const p = await captureResidual(model, plain, { ...spec, layers: [1], offsets: [-1] });
    const want = rowMean(before[1][0], 3, H).map((v, j) => v - rowMean(p[0][0], 3, H)[j]);
    want.forEach((v, j) => expect(d[j]).toBeCloseTo(v, 10));

    const kernel = blockKernel(model, [0.5, 1]);
    const edited = applyRefusalEdit(model, { offset: -1, lambda: 1, weights: [0.5, 1], direction: d, kernel });
    const after = await captureResidual(edited, refusing, spec);
    const r = unit(d);
    const along = (X: Float64Array, i: number) => X.subarray(i * H, (i + 1) * H).reduce((s, v, j) => s + v * r[j], 0);
    for (let i = 0; i < 3; i++) for (let o = 0; o < 2; o++) {
      // Block 0 sees the same input after the edit: its write along r̂ is halved exactly.
      expect(along(after[0][o], i)).toBeCloseTo(0.5 * along(before[0][o], i), 4);
      // Block 1's weight is 1: nothing along r̂ is left.
      expect(Math.abs(along(after[1][o], i))).toBeLessThan(1e-4);
      expect(Math.abs(along(before[1][o], i))).toBeGreaterThan(1e-3);
    }
    const down = (m: LlamaForCausalLM) => (m.model.layers[1].mlp.down_proj as Linear).weight.data();
    expect(Array.from(await down(edited))).toEqual(Array.from(await down(model)));
    const again = await captureResidual(model, refusing, spec);
    expect(Array.from(again[1][0])).toEqual(Array.from(before[1][0])); // the original is untouched
    edited.dispose();
    model.dispose();
  });
});
