#!/usr/bin/env node
// Build: the `wgrad` CLI (cli/main.ts → dist/cli.js, one ESM file for Node), the library
// (engine/index.ts, llm/index.ts → dist/lib/) and the browser bundles (→ dist/web/). Dependencies are bundled except the native Dawn binding (`webgpu`) and
// `deno`, which must stay in node_modules.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliBuildOptions, libBuildOptions } from './cli-bundle.mjs';
import { appBuildOptions, benchPageBuildOptions, demoModel, testPageBuildOptions, webStaticFiles } from './web-bundles.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const t0 = performance.now();

async function buildCli() {
  const entry = join(root, 'cli', 'main.ts');
  if (!existsSync(entry)) {
    console.log('build: cli/main.ts does not exist yet, skipping dist/cli.js');
    return;
  }
  const outfile = join(dist, 'cli.js');
  await build(cliBuildOptions(outfile));
  chmodSync(outfile, 0o755);
  console.log(`build: dist/cli.js`);
}

async function buildLib() {
  const outdir = join(dist, 'lib');
  rmSync(outdir, { recursive: true, force: true });
  await build(libBuildOptions(outdir));
  console.log('build: dist/lib/ (engine.js, llm.js)');
}

async function buildWeb() {
  const outdir = join(dist, 'web');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await Promise.all([build({ ...testPageBuildOptions(), outdir }), build({ ...benchPageBuildOptions(), outdir }), build({ ...appBuildOptions(), outdir })]);
  for (const [src, name] of webStaticFiles) copyFileSync(join(root, src), join(outdir, name));
  // The app's demo model is a copy of ../shared's stories260K (1 MB), never committed here.
  if (demoModel.files.every((f) => existsSync(join(demoModel.from, f)))) {
    mkdirSync(join(outdir, demoModel.to));
    for (const f of demoModel.files) copyFileSync(join(demoModel.from, f), join(outdir, demoModel.to, f));
  } else console.log(`build: ${demoModel.from} not found; the app has no demo model (open a model folder instead)`);
  console.log(`build: dist/web/ (${['app.js', 'app-worker.js', 'app.css', 'test.js', 'bench.js', ...webStaticFiles.map(([, n]) => n)].join(', ')})`);
}

await Promise.all([buildCli(), buildLib(), buildWeb()]);
console.log(`build: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
