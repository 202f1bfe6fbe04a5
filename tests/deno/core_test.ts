// `deno test` entry: the WebGPU smoke check, then every core case on cpu and webgpu, using Deno's
// built-in navigator.gpu (wgpu). Run through `deno task test` or tests/deno/deno.test.ts.
import type { Backend } from '../../backends/backend.ts';
import { createBackend } from '../../backends/select.ts';
import { coreCases } from '../core/cases.ts';
import { webgpuSmoke } from '../core/smoke.ts';

// Typed access to the Deno global without `declare`, so Node's tsc (which has no Deno types)
// can check this file too.
interface DenoTestContext {
  step(name: string, fn: () => Promise<void>): Promise<boolean>;
}
interface DenoLike {
  test(def: { name: string; fn: (t: DenoTestContext) => Promise<void>; sanitizeResources?: boolean; sanitizeOps?: boolean }): void;
}
const Deno = (globalThis as unknown as { Deno: DenoLike }).Deno;

// wgpu keeps internal resources and ops alive past device.destroy(); they are not ours to leak-check.
const gpuSanitizers = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: 'webgpu smoke (Deno)',
  ...gpuSanitizers,
  fn: async () => {
    const info = await webgpuSmoke(navigator.gpu);
    console.log(`adapter: ${info.adapter}`);
  },
});

for (const name of ['cpu', 'webgpu'] as const) {
  Deno.test({
    name: `core on ${name}`,
    ...gpuSanitizers,
    fn: async (t) => {
      const backend: Backend = await createBackend({ backend: name });
      try {
        for (const c of coreCases) await t.step(c.name, () => c.run({ backend }));
      } finally {
        backend.destroy();
      }
    },
  });
}
