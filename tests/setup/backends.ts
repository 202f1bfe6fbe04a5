// The backends a Node test file runs on: cpu, and WebGPU (SwiftShader here, a real GPU elsewhere).
// WebGPU is created once per file on first use and destroyed after the file's tests.
import { afterAll } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';

export interface TestBackend { name: string; get(): Promise<Backend> }

export function testBackends(): TestBackend[] {
  const only = process.env.WGRAD_TEST_BACKENDS?.split(',');
  let gpu: Promise<Backend> | null = null;
  afterAll(async () => {
    if (gpu) (await gpu).destroy();
  });
  const all: TestBackend[] = [
    { name: 'cpu', get: async () => createCpuBackend() },
    // float64: backward formulas checked against finite differences to 1e-6.
    { name: 'cpu-f64', get: async () => createCpuBackend({ precision: 'f64' }) },
    {
      name: 'webgpu',
      get: () => (gpu ??= import('../../backends/select.ts').then((m) => m.createBackend({ backend: 'webgpu' }))),
    },
  ];
  return all.filter((b) => !only || only.includes(b.name));
}
