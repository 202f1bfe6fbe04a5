// Memory-bound workloads over n contiguous f32: the bandwidth ceilings of the roofline.
//   add:  out = a + b          FLOPs n, bytes 12·n (two reads, one write)
//   copy: out = x (Backend.copy, the strided-copy kernel on WebGPU)   FLOPs 0, bytes 8·n
//   sum:  s = Σ x              FLOPs n, bytes 4·n
import type { Backend } from '../../backends/backend.ts';
import { add, sum, tensor, wrap } from '../../engine/ops/index.ts';
import { countLabel, randomValues, type Workload } from '../workload.ts';

export function addWorkload(n: number): Workload {
  return {
    id: `add_${countLabel(n)}`, suite: 'kernels', op: 'add', dtype: 'f32', shape: { n },
    flops: n, bytes: 12 * n, impl: 'engine add (kernels/elementwise.ts)', tolerance: 1e-6,
    build(backend) {
      const a = tensor(randomValues(n, 21), [n], { backend }), b = tensor(randomValues(n, 22), [n], { backend });
      return {
        step: () => add(a, b).dispose(),
        outputs: async () => { const c = add(a, b); const v = await c.data(); c.dispose(); return [v]; },
        dispose: () => { a.dispose(); b.dispose(); },
      };
    },
    small: () => addWorkload(1031),
  };
}

export function copyWorkload(n: number): Workload {
  const copy = (backend: Backend, x: ReturnType<typeof tensor>) => wrap(backend.copy({ storage: x.storage, offset: 0, strides: [1] }, [n]), [n]);
  return {
    id: `copy_${countLabel(n)}`, suite: 'kernels', op: 'copy', dtype: 'f32', shape: { n },
    flops: 0, bytes: 8 * n, impl: 'Backend.copy (kernels/copy.ts)', tolerance: 0,
    build(backend) {
      const x = tensor(randomValues(n, 41), [n], { backend });
      return {
        step: () => copy(backend, x).dispose(),
        outputs: async () => { const c = copy(backend, x); const v = await c.data(); c.dispose(); return [v]; },
        dispose: () => x.dispose(),
      };
    },
    small: () => copyWorkload(1031),
  };
}

export function sumWorkload(n: number): Workload {
  return {
    id: `sum_${countLabel(n)}`, suite: 'kernels', op: 'sum', dtype: 'f32', shape: { n },
    flops: n, bytes: 4 * n, impl: 'engine sum (kernels/reduce.ts, multi-pass)', tolerance: 1e-5,
    build(backend) {
      const x = tensor(randomValues(n, 31), [n], { backend });
      return {
        step: () => sum(x).dispose(),
        outputs: async () => { const s = sum(x); const v = await s.data(); s.dispose(); return [v]; },
        dispose: () => x.dispose(),
      };
    },
    small: () => sumWorkload(4099),
  };
}
