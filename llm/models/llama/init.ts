// Random initialisation as transformers does for a fresh Llama: Normal(0, 0.02) weights, unit norms.
import { noGrad } from '../../../engine/autodiff.ts';
import { tidy } from '../../../engine/memory.ts';
import { full, randn } from '../../../engine/ops/index.ts';
import { Generator } from '../../../engine/random.ts';
import type { LlamaForCausalLM } from './model.ts';

export function randomInit(model: LlamaForCausalLM, seed: number, std = 0.02): void {
  const g = new Generator(seed);
  noGrad(() => tidy(() => {
    for (const [name, p] of model.namedParameters()) {
      p.assign(name.endsWith('norm.weight') ? full(p.shape, 1, { backend: model.backend }) : randn(p.shape, { generator: g, std, backend: model.backend }));
    }
  }));
}
