// A direction planted in a synthetic model (tests/editing/synthetic.ts) is what abliteration's
// selection and every steering method recover (cosine > 0.99), and ablating it stops the refusal.
import { describe, expect, it } from 'vitest';
import { refusalCandidates } from '../../llm/editing/abliteration/candidates.ts';
import { selectDirection } from '../../llm/editing/abliteration/select.ts';
import { trainSteeringVector, STEERING_METHODS } from '../../llm/editing/steering/train.ts';
import { testBackends } from '../setup/backends.ts';
import { cos, plantedModel, plantedPrompts, REFUSAL_TOKEN, unitVector, H } from './synthetic.ts';

for (const { name, get } of testBackends().filter((b) => b.name !== 'webgpu')) {
  describe(`planted direction on ${name}`, () => {
    it('abliteration selects a candidate along it, and ablating it lowers the refusal score', async () => {
      const backend = await get();
      const d = unitVector(H, 7);
      const model = await plantedModel(backend, d);
      const train = plantedPrompts(24, 1), val = plantedPrompts(12, 2);
      const cands = await refusalCandidates(model, train.twin, train.plain, { offsets: [-2, -1] });
      const sel = await selectDirection(model, cands, { harmfulVal: val.twin, harmlessVal: val.plain, refusalTokens: [REFUSAL_TOKEN] });
      expect(sel.baseline.harmfulRefusalScore).toBeGreaterThan(sel.baseline.harmlessRefusalScore + 2);
      expect(sel.best.filtered).toBeNull();
      expect(sel.best.layer).toBeLessThan(3 * 0.8);
      expect(sel.best.refusalScore).toBeLessThan(sel.baseline.harmfulRefusalScore - 2);
      expect(cos(sel.direction, d)).toBeGreaterThan(0.99);
      model.dispose();
    });

    it('steering training recovers it with pca_diff, pca_center and mean_diff, signed towards the positives', async () => {
      const backend = await get();
      const d = unitVector(H, 9);
      const model = await plantedModel(backend, d, 3);
      const { plain, twin } = plantedPrompts(20, 4);
      const pairs = twin.map((p, i) => ({ positive: p, negative: plain[i] }));
      for (const method of STEERING_METHODS) {
        const v = await trainSteeringVector(model, pairs, { method });
        expect([...v.keys()]).toEqual([1, 2]);
        for (const [, dir] of v) expect(cos(dir, d)).toBeGreaterThan(0.99);
        if (method !== 'mean_diff') expect(Math.hypot(...v.get(1)!)).toBeCloseTo(1, 5);
      }
      model.dispose();
    });
  });
}
