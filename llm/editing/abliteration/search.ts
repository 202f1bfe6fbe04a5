// --search N: N edit settings (which candidate direction, scale, heretic's layer kernel) each scored
// by refusal rate and first-token KL on the validation prompts; the Pareto front of the two is what
// the user chooses from. heretic searches with Optuna's TPE; this is a seeded random search.
import { Generator } from '../../../engine/random.ts';
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { scoreEdit, type EvalSetup } from './evaluate.ts';
import type { CandidateScore } from './select.ts';
import { orthogonalizeWeights, shareWeights, type LayerKernel } from './weights.ts';

export interface SearchPoint {
  layer: number;
  offset: number;
  scale: number;
  kernel: LayerKernel;
  refusalRate: number;
  kl: number;
  pareto: boolean;
}

/** `candidates`: the eligible ones; the search draws from the five with the lowest ablated refusal score. */
export async function searchEdits(
  model: LlamaForCausalLM, candidates: readonly CandidateScore[], direction: (c: CandidateScore) => Float64Array,
  baseHarmless: readonly Float64Array[], s: EvalSetup, o: { trials: number; seed?: number; normPreserving?: boolean; log?: (m: string) => void },
): Promise<SearchPoint[]> {
  const L = model.config.numLayers;
  const pool = [...candidates].sort((a, b) => a.refusalScore - b.refusalScore).slice(0, 5);
  if (!pool.length) throw new Error('search: no candidate directions to search over');
  const g = new Generator(o.seed ?? 0);
  const points: SearchPoint[] = [];
  for (let t = 0; t < o.trials; t++) {
    const c = pool[Math.floor(g.uniform() * pool.length)];
    const scale = 0.5 + g.uniform();
    const kernel: LayerKernel = {
      maxWeight: 1, maxWeightPosition: g.uniform() * (L - 1), minWeight: g.uniform(), minWeightDistance: 1 + g.uniform() * (L - 1),
    };
    const copy = shareWeights(model);
    const edited = orthogonalizeWeights(copy, direction(c), { scale, kernel, normPreserving: o.normPreserving });
    const { refusalRate, kl } = await scoreEdit(edited, baseHarmless, s);
    // Only the edited tensors are new; the rest is the base model's storage, released with the copy's references.
    edited.dispose();
    if (edited !== copy) copy.dispose();
    points.push({ layer: c.layer, offset: c.offset, scale, kernel, refusalRate, kl, pareto: false });
    o.log?.(`  trial ${t + 1}/${o.trials}: direction of block ${c.layer}, scale ${scale.toFixed(2)}, kernel peak ${kernel.maxWeightPosition.toFixed(1)} ±${kernel.minWeightDistance.toFixed(1)}: refusal ${(100 * refusalRate).toFixed(1)}%, KL ${kl.toFixed(4)}`);
  }
  for (const p of points) {
    p.pareto = !points.some((q) => q !== p && q.refusalRate <= p.refusalRate && q.kl <= p.kl && (q.refusalRate < p.refusalRate || q.kl < p.kl));
  }
  return points;
}
