// GPUDevice acquisition for the three runtimes wgrad runs in:
//   - browsers and Deno: navigator.gpu;
//   - Node: Dawn from the npm package `webgpu`, loaded by a dynamic import that Deno and browsers
//     never reach (and that bundlers leave alone, since the specifier is not a literal).
// The device gets the adapter's own limits (a device otherwise gets the spec defaults, e.g. 128 MiB
// per storage binding) and every feature of interest that the adapter has.

import { chooseProfile, type DeviceProfile } from './profiles.ts';

export type Runtime = 'node' | 'deno' | 'browser';

export interface DeviceOptions {
  /** Bring your own device (the backend will not destroy it). */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
  /** Dawn toggles for Node's `create(flags)`; default: $WEBGPU_DAWN_FLAGS split on spaces. */
  dawnFlags?: string[];
  /**
   * Ask for 'timestamp-query' when the adapter has it (GPU timers for benchmarks: WebGPUBackend.createTimer).
   * Off by default: browsers may quantise or gate timestamps, and ordinary work does not need them.
   */
  timestampQuery?: boolean;
  /** Device profile by name instead of the one the adapter info implies (default: $WGRAD_DEVICE_PROFILE). */
  profile?: string;
}

/** What the adapter says about itself (empty strings where it does not say). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface AcquiredDevice {
  device: GPUDevice;
  runtime: Runtime;
  adapterName: string;
  adapterInfo: AdapterInfo;
  features: ReadonlySet<string>;
  ownsDevice: boolean;
  /** The device profile (profiles.ts) and why it was chosen. */
  profile: DeviceProfile;
  profileWhy: string;
  /** Dawn flags in effect (Node), to tell whether the profile's are. */
  dawnFlags: readonly string[];
}

/** Features later kernels use (f16 storage/math, subgroup reductions, subgroup matrices). */
export const WANTED_FEATURES = [
  'shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix',
] as const;

/** Limits requested at the adapter's maximum. */
export const WANTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize', 'maxBindGroups',
] as const;

/** Thrown when no WebGPU device can be had; the message says why and what to install. */
export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

const INSTALL_HINT =
  'On Linux without a GPU, install a Vulkan driver: Debian/Ubuntu `apt install libvulkan1 chromium` and run with ' +
  'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (SwiftShader), or `apt install mesa-vulkan-drivers` ' +
  '(lavapipe; Dawn refuses Mesa older than 23). With an NVIDIA/AMD GPU, install its Vulkan driver. ' +
  'In a browser, use one with WebGPU (Chrome/Edge 113+, or --enable-unsafe-webgpu) and serve the page from https or localhost.';

type AnyGlobal = typeof globalThis & {
  Deno?: { version?: unknown; env?: { get(k: string): string | undefined } };
  process?: { versions?: { node?: string }; env?: Record<string, string | undefined> };
  navigator?: { gpu?: GPU };
};
const g = globalThis as AnyGlobal;

export function detectRuntime(): Runtime {
  if (g.Deno !== undefined) return 'deno'; // Deno also defines process.versions.node
  if (typeof g.process?.versions?.node === 'string') return 'node';
  return 'browser';
}

// One Dawn instance per set of flags for the life of the process: creating instances is not free
// and dawn.node does not expect many.
const dawnInstances = new Map<string, GPU>();

async function nodeGPU(flags: string[]): Promise<GPU> {
  const key = flags.join(' ');
  const cached = dawnInstances.get(key);
  if (cached) return cached;
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    const specifier = 'webgpu'; // not a literal: bundlers for the browser must not try to include it
    mod = await import(/* @vite-ignore */ specifier);
  } catch (e) {
    throw new WebGPUUnavailableError(
      `webgpu backend: could not load the npm package \`webgpu\` (Dawn for Node): ${(e as Error).message}. ` +
        'Install it with `npm install webgpu`.',
    );
  }
  // Node has no GPUBufferUsage / GPUMapMode / ... globals; Dawn's own objects live in `globals`.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  const gpu = mod.create(flags);
  dawnInstances.set(key, gpu);
  return gpu;
}

function envFlags(): string[] {
  const raw = g.process?.env?.WEBGPU_DAWN_FLAGS ?? '';
  return raw.split(' ').filter((s) => s.length > 0);
}

export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const runtime = detectRuntime();
  if (opts.device) {
    const info = (opts.device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    return {
      device: opts.device, runtime, adapterName: 'caller-provided device', adapterInfo: adapterInfo(info),
      features: new Set(opts.device.features), ownsDevice: false, ...profileFor(adapterInfo(info), opts), dawnFlags: [],
    };
  }
  let gpu: GPU | undefined = g.navigator?.gpu;
  let where = 'navigator.gpu';
  let flags: string[] = [];
  if (!gpu && runtime === 'node') {
    flags = opts.dawnFlags ?? envFlags();
    gpu = await nodeGPU(flags);
    where = `Dawn (npm webgpu${flags.length ? `, flags ${flags.join(' ')}` : ''})`;
  }
  if (!gpu) {
    throw new WebGPUUnavailableError(
      `webgpu backend: navigator.gpu is missing in this ${runtime} runtime (WebGPU is disabled, unsupported, ` +
        `or the page is not a secure context). ${INSTALL_HINT}`,
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (e) {
    throw new WebGPUUnavailableError(`webgpu backend: requestAdapter failed on ${where}: ${(e as Error).message}. ${INSTALL_HINT}`);
  }
  if (!adapter) {
    const icd = g.process?.env?.VK_ICD_FILENAMES;
    throw new WebGPUUnavailableError(
      `webgpu backend: no GPU adapter from ${where} (runtime ${runtime}` +
        `${icd !== undefined ? `, VK_ICD_FILENAMES=${icd}` : ', VK_ICD_FILENAMES unset'}); ` +
        `a missing Vulkan loader or driver looks like this. ${INSTALL_HINT}`,
    );
  }
  const chosen = profileFor(adapterInfo(adapter.info), opts);
  const wanted: string[] = [...new Set([...WANTED_FEATURES, ...chosen.profile.features]), ...(opts.timestampQuery ? ['timestamp-query'] : [])];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  const limits = adapter.limits as unknown as Record<string, number>;
  for (const k of WANTED_LIMITS) if (typeof limits[k] === 'number') requiredLimits[k] = limits[k];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    throw new WebGPUUnavailableError(`webgpu backend: requestDevice failed on ${where}: ${(e as Error).message}`);
  }
  const info = adapter.info;
  const adapterName = [info?.vendor, info?.architecture, info?.description || info?.device]
    .filter((s) => s && s.length > 0).join(' ') || 'unknown adapter';
  return { device, runtime, adapterName, adapterInfo: adapterInfo(info), features: new Set(device.features), ownsDevice: true, ...chosen, dawnFlags: flags };
}

/** An environment variable, or undefined where there is none or reading it is not allowed (Deno without --allow-env). */
export function envVar(name: string): string | undefined {
  try { return g.process?.env?.[name]; } catch { return undefined; }
}

function profileFor(info: AdapterInfo, opts: DeviceOptions) {
  const { profile, why } = chooseProfile(info, opts.profile ?? envVar('WGRAD_DEVICE_PROFILE'));
  return { profile, profileWhy: why };
}

// Dawn's GPUAdapterInfo fields are prototype getters (JSON.stringify sees none), so read each by name.
function adapterInfo(info: GPUAdapterInfo | undefined): AdapterInfo {
  const s = (v: unknown) => (typeof v === 'string' ? v : '');
  return { vendor: s(info?.vendor), architecture: s(info?.architecture), device: s(info?.device), description: s(info?.description) };
}
