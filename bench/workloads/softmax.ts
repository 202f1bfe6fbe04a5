// Row softmax of x [rows, cols], f32 (the softmax routine: kernels/softmax.ts).
// FLOPs ≈ 5 per element (max, subtract, exp, sum, divide); bytes 8·rows·cols.
import { softmax, tensor } from '../../engine/ops/index.ts';
import { randomValues, type Workload } from '../workload.ts';

export function softmaxWorkload(rows: number, cols: number): Workload {
  return {
    id: `softmax_${rows}x${cols}`, suite: 'kernels', op: 'softmax', dtype: 'f32', shape: { rows, cols },
    flops: 5 * rows * cols, bytes: 8 * rows * cols, impl: 'engine softmax (kernels/softmax.ts)', tolerance: 1e-5,
    build(backend) {
      const x = tensor(randomValues(rows * cols, 61, 4), [rows, cols], { backend });
      return {
        step: () => softmax(x).dispose(),
        outputs: async () => { const y = softmax(x); const v = await y.data(); y.dispose(); return [v]; },
        dispose: () => x.dispose(),
      };
    },
    small: () => softmaxWorkload(5, 67),
  };
}
