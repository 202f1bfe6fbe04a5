// The default backend new tensors are made on. Set it once (`setBackend`, or `init` in index.ts);
// until then it is a float32 cpu backend so scripts and tests work with no setup.
import type { Backend } from '../backends/backend.ts';
import { createCpuBackend } from '../backends/cpu/index.ts';

let current: Backend | null = null;

export function setBackend(b: Backend): void {
  current = b;
}

export function getBackend(): Backend {
  if (!current) current = createCpuBackend();
  return current;
}
