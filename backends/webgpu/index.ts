// createWebGPUBackend: acquire a device (Node/Deno/browser) and wrap it in the WebGPU backend.
import type { Backend } from '../backend.ts';
import { WebGPUBackend, type WebGPUBackendOptions } from './backend.ts';
import { acquireDevice, type DeviceOptions } from './device.ts';

export { WebGPUBackend } from './backend.ts';
export { acquireDevice, detectRuntime, WebGPUUnavailableError } from './device.ts';
export { chooseProfile, PROFILES, PROFILE_NAMES } from './profiles.ts';
export type { DeviceProfile, ProfileName } from './profiles.ts';

export interface CreateWebGPUOptions extends DeviceOptions, WebGPUBackendOptions {
  /** Only 'f32': WGSL has no f64. Asking for 'f64' is an error (use the cpu backend). */
  precision?: 'f32' | 'f64';
}

export async function createWebGPUBackend(opts: CreateWebGPUOptions = {}): Promise<WebGPUBackend & Backend> {
  if (opts.precision === 'f64') {
    throw new Error("webgpu backend: precision 'f64' is not available (WGSL has no f64); use the cpu backend for f64");
  }
  const acq = await acquireDevice(opts);
  return new WebGPUBackend(acq, opts);
}
