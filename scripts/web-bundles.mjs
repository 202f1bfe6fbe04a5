// esbuild options for the browser bundles, shared by scripts/build.mjs (writes dist/web/) and
// the Chromium test runner (tests/browser/run.ts, builds in memory and serves from there).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Static files copied next to the bundles, as [source under the repo, name in dist/web]. */
export const webStaticFiles = [['web/test.html', 'test.html'], ['web/bench.html', 'bench.html'], ['web/app.html', 'index.html']];

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

/** The commit the bundle is built from, for result files made in the browser (bench/fingerprint.ts). */
function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The benchmark page script (web/bench.html → bench.js): runs a suite and downloads the result file. */
export function benchPageBuildOptions() {
  return {
    ...testPageBuildOptions(),
    entryPoints: { bench: 'bench/web/page.ts' },
    sourcemap: false,
    define: { __WGRAD_COMMIT__: JSON.stringify(gitCommit()) },
  };
}

/**
 * The app (web/app.html → index.html): the page script, its training worker and their CSS
 * (uPlot's included), everything bundled so the page loads nothing from another origin.
 */
export function appBuildOptions() {
  return {
    ...testPageBuildOptions(),
    entryPoints: { app: 'web/app/main.ts', 'app-worker': 'web/app/worker/worker.ts' },
    sourcemap: 'linked',
    define: { __WGRAD_COMMIT__: JSON.stringify(gitCommit()) },
  };
}

/** The demo model the app offers (demo-model/): stories260K from ../shared, when it is there. */
export const demoModel = { from: join(root, '..', 'shared', 'assets', 'models', 'stories260K-hf'), to: 'demo-model', files: ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'] };
