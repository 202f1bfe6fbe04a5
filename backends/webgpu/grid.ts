// Workgroup grids within the per-dimension limit (65535 on every WebGPU device by default).
// 1-D work of W workgroups becomes (x, y) with x·y ≥ W; kernels re-linearise it as
// wid.y · num_workgroups.x + wid.x and ignore the few surplus workgroups.

export const MAX_WORKGROUPS_PER_DIM = 65535;

export function foldGrid(workgroups: number, maxDim = MAX_WORKGROUPS_PER_DIM): [number, number] {
  if (workgroups <= maxDim) return [workgroups, 1];
  const y = Math.ceil(workgroups / maxDim);
  if (y > maxDim) {
    throw new Error(`webgpu backend: ${workgroups} workgroups exceed ${maxDim}² even when folded into two dimensions`);
  }
  return [Math.ceil(workgroups / y), y];
}
