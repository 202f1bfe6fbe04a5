// `deno test` entry: the WebGPU smoke check, then every core case on cpu and webgpu, using Deno's
// built-in navigator.gpu (wgpu). Run through `deno task test` or tests/deno/deno.test.ts.
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

Deno.test({
  name: 'webgpu smoke (Deno)',
  // wgpu keeps internal resources alive past device.destroy(); they are not ours to leak-check.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const info = await webgpuSmoke(navigator.gpu);
    console.log(`adapter: ${info.adapter}`);
  },
});
