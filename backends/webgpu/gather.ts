// Backend.gather and Backend.scatterAdd on WebGPU (kernels/gather.ts): embedding lookup and its backward.
import { gatherKernel, scatterAddKernel } from '../../kernels/gather.ts';
import type { Storage } from '../backend.ts';
import type { GpuRoutineContext } from '../routine.ts';
import { checkShape } from './views.ts';

/** out[i, :] = table[idx[i], :] for table [rows, cols] → [n, cols]. */
export function gatherGpu(g: GpuRoutineContext, table: Storage, idx: Storage, rows: number, cols: number): Storage {
  if (idx.dtype !== 'i32') throw new Error(`webgpu gather: idx must be i32, got ${idx.dtype}`);
  checkShape('gather', '[rows, cols]', [rows, cols]);
  if (table.size !== rows * cols) {
    throw new Error(`webgpu gather: table holds ${table.size} elements but [rows, cols] = [${rows}, ${cols}] needs ${rows * cols}`);
  }
  const tb = g.bind('gather', 'table', table), ib = g.bind('gather', 'idx', idx);
  const out = g.alloc(idx.size * cols, table.dtype, 'gather');
  if (out.size === 0) return out;
  g.run1d('gather', gatherKernel(), [tb, ib, g.bind('gather', 'out', out)], { n: out.size, rows, cols });
  return out;
}

/** out [rows, cols] = zeros; out[idx[i], :] += src[i, :]. */
export function scatterAddGpu(g: GpuRoutineContext, src: Storage, idx: Storage, rows: number, cols: number): Storage {
  if (idx.dtype !== 'i32') throw new Error(`webgpu scatterAdd: idx must be i32, got ${idx.dtype}`);
  checkShape('scatterAdd', '[rows, cols]', [rows, cols]);
  if (src.size !== idx.size * cols) {
    throw new Error(`webgpu scatterAdd: src holds ${src.size} elements but idx [${idx.size}] × cols ${cols} needs ${idx.size * cols}`);
  }
  const sb = g.bind('scatterAdd', 'src', src), ib = g.bind('scatterAdd', 'idx', idx);
  const out = g.alloc(rows * cols, src.dtype, 'scatterAdd');
  g.clear(out);
  if (src.size === 0) return out;
  g.run1d('scatterAdd', scatterAddKernel(src.dtype), [sb, ib, g.bind('scatterAdd', 'out', out)], { n: src.size, rows, cols });
  return out;
}
