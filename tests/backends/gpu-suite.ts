// Shared set-up for test files that compare a WebGPU primitive with the cpu backend: one WebGPU
// backend per file (skipping each test with the reason when no adapter exists), a cpu backend,
// and a seed (set WGRAD_TEST_SEED to replay a failure).
import { afterAll, beforeAll, it, type TestContext } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../../backends/webgpu/index.ts';

export function webgpuSuite() {
  const SEED = Number(process.env.WGRAD_TEST_SEED) || Date.now() % 1_000_000;
  const cpu = createCpuBackend();
  let gpu: WebGPUBackend | null = null;
  let unavailable = '';
  beforeAll(async () => {
    try {
      gpu = await createWebGPUBackend();
    } catch (e) {
      unavailable = (e as Error).message;
    }
  });
  afterAll(() => gpu?.destroy());
  /** timeout: only for tests whose pipelines take long to compile on software Vulkan (say which). */
  const gpuIt = (name: string, fn: (g: WebGPUBackend) => Promise<void>, timeout?: number) =>
    it(name, async (ctx: TestContext) => {
      if (!gpu) return ctx.skip(`no WebGPU adapter: ${unavailable}`);
      await fn(gpu);
    }, timeout);
  return { SEED, cpu, gpuIt };
}
