// The device, runtime and engine fingerprint a result file carries (bench/schema.ts), read from
// the backend that ran the rows: the WebGPU adapter's info, features and limits, or the host CPU
// for the cpu backend; the runtime (Node, Deno, browser) and its version; wgrad's version and commit.
import type { Backend } from '../backends/backend.ts';
import { detectRuntime } from '../backends/webgpu/device.ts';
import type { AdapterInfo } from '../backends/webgpu/device.ts';
import type { DeviceFingerprint, EngineFingerprint, RuntimeFingerprint } from './schema.ts';

/** wgrad's version (tests/bench/schema.test.ts checks it against package.json). */
export const WGRAD_VERSION = '0.1.0';

// Set by scripts/web-bundles.mjs (esbuild `define`) for the browser page, which cannot ask git.
declare const __WGRAD_COMMIT__: string | undefined;

interface GpuBackendLike { device: GPUDevice; adapterInfo: AdapterInfo; features: ReadonlySet<string> }
const isGpu = (b: Backend): b is Backend & GpuBackendLike => b.name === 'webgpu' && 'device' in b;

type G = typeof globalThis & {
  Deno?: { version?: { deno?: string }; env?: { get(k: string): string | undefined } };
  process?: { versions?: { node?: string }; env?: Record<string, string | undefined>; platform?: string; arch?: string };
  navigator?: { userAgent?: string; hardwareConcurrency?: number };
};
const g = globalThis as G;

export function runtimeFingerprint(): RuntimeFingerprint {
  const name = detectRuntime();
  if (name === 'deno') return { name, version: g.Deno?.version?.deno ?? '' };
  if (name === 'node') return { name, version: g.process?.versions?.node ?? '' };
  return { name, version: '', userAgent: g.navigator?.userAgent };
}

async function hostInfo(): Promise<DeviceFingerprint['host']> {
  if (detectRuntime() === 'browser') return { cores: g.navigator?.hardwareConcurrency };
  try {
    const os = await import('node:os');
    const cpus = os.cpus();
    return { cpu: cpus[0]?.model?.trim(), cores: cpus.length, os: `${os.platform()} ${os.release()} ${os.arch()}` };
  } catch {
    return undefined;
  }
}

export async function deviceFingerprint(backend: Backend): Promise<DeviceFingerprint> {
  const host = await hostInfo();
  if (!isGpu(backend)) {
    return {
      backend: backend.name, name: `cpu (${host?.cpu ?? 'host'}, ${backend.precision})`, adapter: null,
      features: [], limits: host?.cores ? { cores: host.cores } : {}, host,
    };
  }
  const info = backend.adapterInfo;
  const limits: Record<string, number> = {};
  const l = backend.device.limits as unknown as Record<string, unknown>;
  for (const k in l) if (typeof l[k] === 'number') limits[k] = l[k] as number;
  const label = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unknown adapter';
  return {
    backend: 'webgpu', name: `${label} (webgpu)`, adapter: { ...info },
    features: [...backend.features].sort(), limits, host,
  };
}

async function gitCommit(): Promise<string | undefined> {
  if (typeof __WGRAD_COMMIT__ === 'string' && __WGRAD_COMMIT__) return __WGRAD_COMMIT__;
  const env = g.Deno ? (() => { try { return g.Deno!.env?.get('WGRAD_GIT_COMMIT'); } catch { return undefined; } })() : g.process?.env?.WGRAD_GIT_COMMIT;
  if (env) return env;
  if (detectRuntime() === 'browser') return undefined;
  try {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    if (!/^[0-9a-f]{40}$/.test(out)) return undefined;
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    return dirty ? `${out}+dirty` : out;
  } catch {
    return undefined; // not a git checkout, no git, or no permission (Deno without --allow-run)
  }
}

export async function engineFingerprint(): Promise<EngineFingerprint> {
  const commit = await gitCommit();
  return { name: 'wgrad', version: WGRAD_VERSION, ...(commit ? { commit } : {}) };
}
