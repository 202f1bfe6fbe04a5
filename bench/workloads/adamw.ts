// One AdamW update of P f32 parameters (the adamw routine: kernels/adamw.ts on WebGPU), updating p, m
// and v in place from g. FLOPs ≈ 14·P (decay 1, m 3, v 4, denominator 3, update 3);
// bytes 28·P (p, g, m, v read; p, m, v written).
import { tensor } from '../../engine/ops/index.ts';
import { AdamW } from '../../engine/optim/adamw.ts';
import { countLabel, randomValues, type Workload } from '../workload.ts';

export function adamwWorkload(P: number): Workload {
  return {
    id: `adamw_${countLabel(P)}`, suite: 'kernels', op: 'adamw', dtype: 'f32', shape: { params: P },
    flops: 14 * P, bytes: 28 * P, impl: 'engine AdamW (fused adamw routine)', tolerance: 1e-5,
    build(backend) {
      const p = tensor(randomValues(P, 101), [P], { backend });
      p.requiresGrad = true;
      p.grad = tensor(randomValues(P, 102), [P], { backend }).keep();
      const opt = new AdamW([p], { lr: 1e-2, weightDecay: 0.01 });
      return {
        step: () => opt.step(),
        // Two steps, so the moments the second step reads were written by the first.
        outputs: async () => { opt.step(); opt.step(); return [await p.data()]; },
        dispose: () => { opt.dispose(); p.grad?.dispose(); p.dispose(); },
      };
    },
    small: () => adamwWorkload(1031),
  };
}
