// Node has no GPUBufferUsage/GPUMapMode/... globals; the `webgpu` package exports them.
import { globals } from 'webgpu';

export function installWebGPUGlobals(): void {
  Object.assign(globalThis, globals);
}
