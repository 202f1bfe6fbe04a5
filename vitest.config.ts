// vitest runs everything `npm test` covers: Node suites directly, and the Deno and Chromium
// harnesses through small spawner tests (tests/deno/deno.test.ts, tests/browser/browser.test.ts).
import { defineConfig } from 'vitest/config';
import { applyTestEnv } from './tests/setup/env.ts';

// Set here, in the main process, so every fork and every spawned deno/chromium inherits it.
applyTestEnv();

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // dawn.node is not safe in worker threads; a child process per test file also keeps one
    // file's GPU device (and any abort at its exit) away from the others.
    pool: 'forks',
    // SwiftShader, Deno and Chromium each want a core; more than 2 parallel files on a 2-core
    // machine only makes every GPU test slower. WGRAD_TEST_WORKERS overrides on bigger machines.
    maxWorkers: Number(process.env.WGRAD_TEST_WORKERS) || 2,
    setupFiles: ['tests/setup/vitest.setup.ts'],
    // Software Vulkan compiles each pipeline in ~0.1-1 s and runs <1 GFLOP/s.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
  },
});
