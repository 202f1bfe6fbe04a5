// Backend selection: the explicit option, then $WGRAD_BACKEND, then auto (a hardware GPU adapter if one
// exists, else cpu). Works in Node, Deno and browsers; only the webgpu path touches a GPU.
import type { Backend } from './backend.ts';
import { createCpuBackend } from './cpu/index.ts';
import type { MatmulPrecision } from './routine.ts';

export { createCpuBackend };

export const BACKEND_CHOICES = ['cpu', 'webgpu', 'auto'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface CreateBackendOptions {
  backend?: BackendChoice;
  /** f64 is cpu-only (gradient checks); auto picks cpu for it. */
  precision?: 'f32' | 'f64';
  /** webgpu: ask for the 'timestamp-query' feature where the adapter has it (benchmarks' GPU timers). */
  timestampQuery?: boolean;
  /** 'f16': f32 matmuls on the matrix units with f16 operands (webgpu, where the device has them; cpu emulates). */
  matmulPrecision?: MatmulPrecision;
}

/** $WGRAD_BACKEND in Node or Deno; undefined in browsers or when Deno has no env permission. */
export function backendFromEnv(): string | undefined {
  return envVar('WGRAD_BACKEND');
}

/** An environment variable in Node or Deno (empty counts as unset); undefined in browsers or without permission. */
function envVar(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(k: string): string | undefined } };
    process?: { env?: Record<string, string | undefined> };
  };
  try {
    if (g.Deno) return g.Deno.env.get(name) || undefined;
    return g.process?.env?.[name] || undefined;
  } catch {
    return undefined; // Deno without --allow-env throws NotCapable
  }
}

function parseChoice(name: string, from: string): BackendChoice {
  const v = name.trim().toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new Error(`unknown backend '${name}' (from ${from}); valid backends: ${BACKEND_CHOICES.join(', ')}`);
}

/** The backend that will be used, and where the choice came from. */
export function resolveBackendChoice(opts: CreateBackendOptions = {}): { choice: BackendChoice; from: string } {
  if (opts.backend !== undefined) return { choice: parseChoice(String(opts.backend), 'the backend option'), from: 'option' };
  const env = backendFromEnv();
  if (env !== undefined) return { choice: parseChoice(env, 'WGRAD_BACKEND'), from: 'WGRAD_BACKEND' };
  return { choice: 'auto', from: 'default' };
}

export async function createBackend(opts: CreateBackendOptions = {}): Promise<Backend> {
  const { choice } = resolveBackendChoice(opts);
  const precision = opts.precision ?? 'f32';
  const matmulPrecision = opts.matmulPrecision ?? (envVar('WGRAD_MATMUL_PRECISION') as MatmulPrecision | undefined);
  if (choice === 'cpu') return createCpuBackend({ precision, matmulPrecision });
  // Loaded on demand so cpu-only users never load GPU code (or Dawn in Node).
  const { createWebGPUBackend, WebGPUUnavailableError } = await import('./webgpu/index.ts');
  const timestampQuery = opts.timestampQuery;
  if (choice === 'webgpu') return createWebGPUBackend({ precision, timestampQuery, matmulPrecision });
  if (precision === 'f64') return createCpuBackend({ precision, matmulPrecision });
  try {
    const gpu = await createWebGPUBackend({ timestampQuery, matmulPrecision });
    // Software Vulkan (SwiftShader, lavapipe) runs under 1 GFLOP/s: slower than the cpu backend, so
    // auto takes it only when asked for by name (--backend webgpu).
    if (!isSoftwareAdapter(gpu.adapterInfo)) return gpu;
    gpu.destroy();
    return createCpuBackend({ precision, matmulPrecision });
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) return createCpuBackend({ precision, matmulPrecision });
    throw e;
  }
}

/** CPU implementations of Vulkan/WebGPU: SwiftShader, Mesa's lavapipe/llvmpipe, WARP. */
export function isSoftwareAdapter(info: { vendor: string; architecture: string; device: string; description: string }): boolean {
  return /swiftshader|llvmpipe|lavapipe|warp|microsoft basic render/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}
