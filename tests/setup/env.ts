// Environment every Node-side test process needs before Dawn (or a spawned Deno/Chromium) starts.
// Called from vitest.config.ts (so forks and spawned runtimes inherit it) and again in each fork's
// setup file (so a fork started some other way still gets it). The defaults themselves live in
// scripts/runtime-env.mjs, shared with `npm start`. Node only.
import { applyRuntimeEnv, lavapipeIcd, SWIFTSHADER_ICD } from '../../scripts/runtime-env.mjs';

export { lavapipeIcd, SWIFTSHADER_ICD };

export function applyTestEnv(env: NodeJS.ProcessEnv = process.env): void {
  applyRuntimeEnv(env);
}
