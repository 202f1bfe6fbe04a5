// esbuild options for the browser bundles, shared by scripts/build.mjs (writes dist/web/) and
// the Chromium test runner (tests/browser/run.ts, builds in memory and serves from there).
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Static files copied next to the bundles, as [source under the repo, name in dist/web]. */
export const webStaticFiles = [['web/test.html', 'test.html']];

/** The core-test page script: every core case on cpu and webgpu, results on window.__wgrad. */
export function testPageBuildOptions() {
  return {
    absWorkingDir: root,
    entryPoints: { test: 'tests/browser/page.ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    // The Node-only Dawn binding is behind a guarded dynamic import the browser never takes.
    external: ['webgpu', 'node:*'],
    logLevel: 'warning',
  };
}
