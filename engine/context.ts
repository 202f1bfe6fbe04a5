// The default backend new tensors are made on. Set it once (`setBackend`, or `init` in index.ts).
// Until then the registered default factory makes one on first use: engine/index.ts registers a
// float32 cpu backend, so scripts and tests work with no setup, while the engine's own modules
// never import a backend implementation.
import type { Backend } from '../backends/backend.ts';

let current: Backend | null = null;
let makeDefault: (() => Backend) | null = null;

export function setBackend(b: Backend): void {
  current = b;
}

/** The backend getBackend() creates when none was set (engine/index.ts: the cpu backend). */
export function setDefaultBackendFactory(f: () => Backend): void {
  makeDefault = f;
}

export function getBackend(): Backend {
  if (current) return current;
  if (!makeDefault) {
    throw new Error('no backend: call init() or setBackend() (engine/index.ts), or pass { backend } when making a tensor');
  }
  return (current = makeDefault());
}

/**
 * How elementwise ops run: 'eager' dispatches each op at once (the default); 'lazy' records them
 * and runs a chain as one fused kernel when a value is needed (engine/lazy.ts). $WGRAD_MODE sets
 * the starting mode.
 */
export type ExecutionMode = 'eager' | 'lazy';

/** $WGRAD_MODE in Node or Deno (so any test file or script can run lazily); undefined elsewhere. */
function envMode(): ExecutionMode | undefined {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; Deno?: { env: { get(k: string): string | undefined } } };
  let v: string | undefined;
  try {
    v = g.Deno ? g.Deno.env.get('WGRAD_MODE') : g.process?.env?.WGRAD_MODE;
  } catch {
    return undefined; // Deno without env permission
  }
  if (v === undefined || v === '') return undefined;
  if (v !== 'eager' && v !== 'lazy') throw new Error(`WGRAD_MODE: expected 'eager' or 'lazy', got '${v}'`);
  return v;
}

let mode: ExecutionMode = envMode() ?? 'eager';

export function setMode(m: ExecutionMode): void {
  if (m !== 'eager' && m !== 'lazy') throw new Error(`setMode: expected 'eager' or 'lazy', got ${String(m)}`);
  mode = m;
}

export function getMode(): ExecutionMode {
  return mode;
}
