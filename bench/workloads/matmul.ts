// C = op(A)·op(B), f32, through the engine's matmul (Backend.matmul: kernels/matmul.ts on WebGPU).
//   A [m, k] (transA: stored [k, m]) · B [k, n] (transB: stored [n, k]) → C [m, n]
// FLOPs 2·m·n·k; bytes 4·(m·k + k·n + m·n).
import { matmul, tensor } from '../../engine/ops/index.ts';
import { randomValues, type Workload } from '../workload.ts';

export function matmulWorkload(m: number, n: number, k: number, transA = false, transB = false): Workload {
  const tr = `${transA ? 't' : 'n'}${transB ? 't' : 'n'}`;
  const dims = m === n && n === k ? `${m}` : `${m}x${n}x${k}`;
  return {
    id: `matmul_${dims}_${tr}`, suite: 'kernels', op: 'matmul', dtype: 'f32',
    shape: { m, n, k, transA: transA ? 1 : 0, transB: transB ? 1 : 0 },
    flops: 2 * m * n * k, bytes: 4 * (m * k + k * n + m * n),
    impl: 'engine matmul (kernels/matmul.ts)', tolerance: 1e-5,
    build(backend) {
      const a = tensor(randomValues(m * k, 11), transA ? [k, m] : [m, k], { backend });
      const b = tensor(randomValues(k * n, 12), transB ? [n, k] : [k, n], { backend });
      const run = () => matmul(a, b, { transA, transB });
      return {
        step: () => run().dispose(),
        outputs: async () => {
          const c = run();
          const v = await c.data();
          c.dispose();
          return [v];
        },
        dispose: () => { a.dispose(); b.dispose(); },
      };
    },
    // Odd sizes cross tile edges.
    small: () => matmulWorkload(17, 33, 9, transA, transB),
  };
}
