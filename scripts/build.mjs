#!/usr/bin/env node
// Build: the `wgrad` CLI (cli/main.ts → dist/cli.js, one ESM file for Node) and the browser
// bundles (→ dist/web/). Dependencies are bundled except the native Dawn binding (`webgpu`) and
// `deno`, which must stay in node_modules.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliBuildOptions } from './cli-bundle.mjs';
import { benchPageBuildOptions, testPageBuildOptions, webStaticFiles } from './web-bundles.mjs';

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

async function buildWeb() {
  const outdir = join(dist, 'web');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await Promise.all([build({ ...testPageBuildOptions(), outdir }), build({ ...benchPageBuildOptions(), outdir })]);
  for (const [src, name] of webStaticFiles) copyFileSync(join(root, src), join(outdir, name));
  console.log(`build: dist/web/ (${['test.js', 'bench.js', ...webStaticFiles.map(([, n]) => n)].join(', ')})`);
}

await Promise.all([buildCli(), buildWeb()]);
console.log(`build: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
