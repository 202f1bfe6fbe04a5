// Backend.copy and Backend.copyInto on WebGPU (kernels/copy.ts): strided views materialised, or
// written into through a strided window.
import { copyIntoKernel, copyKernel } from '../../kernels/copy.ts';
import type { Storage, View } from '../backend.ts';
import type { GpuRoutineContext } from '../routine.ts';
import { numel, stridedLaunch } from './views.ts';

/** A contiguous [outShape] copy of a strided view. */
export function copyGpu(g: GpuRoutineContext, src: View, outShape: number[]): Storage {
  const sb = g.bind('copy', 'src', src.storage);
  const c = stridedLaunch('copy', outShape, [{ name: 's', view: src, size: src.storage.size }]);
  const out = g.alloc(numel(outShape), src.storage.dtype, 'copy');
  if (c === null) return out;
  // Contiguous views too: on an H200 the kernel copies at ~2x copyBufferToBuffer's rate, and it
  // keeps the compute pass open.
  g.run1d('copy', copyKernel(c.rank, c.vec4), [sb, g.bind('copy', 'out', out)], c.values);
  return out;
}

/** Writes contiguous src [shape] into dst through its strided window; mutates dst. */
export function copyIntoGpu(g: GpuRoutineContext, dst: View, src: Storage, shape: number[]): void {
  const dt = dst.storage.dtype;
  if (src.dtype !== dt) throw new Error(`webgpu copyInto: dst is ${dt} but src is ${src.dtype}`);
  if (src.size !== numel(shape)) {
    throw new Error(`webgpu copyInto: src holds ${src.size} elements but shape [${shape.join(', ')}] has ${numel(shape)}`);
  }
  const db = g.bind('copyInto', 'dst', dst.storage);
  let sb = g.bind('copyInto', 'src', src);
  const c = stridedLaunch('copyInto', shape, [{ name: 'd', view: dst, size: dst.storage.size }]);
  if (c === null) return;
  let temp: Storage | null = null;
  if (sb.buffer === db.buffer) {
    // A dispatch may not bind one buffer as both writable and readable: read from a snapshot.
    temp = copyGpu(g, { storage: src, offset: 0, strides: [1] }, [src.size]);
    sb = g.bind('copyInto', 'src', temp);
  }
  g.run1d('copyInto', copyIntoKernel(c.rank, c.vec4), [db, sb], c.values);
  if (temp) g.backend.free(temp);
}
