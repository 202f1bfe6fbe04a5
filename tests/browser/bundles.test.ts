// The browser bundles (the app, its worker, the bench and test pages) must not import Node's
// modules statically: a page fails to load on the first `node:` import. Dynamic imports behind a
// runtime check are fine. Checked from esbuild's metafile, so a regression names the file.
import { build, type BuildOptions } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { appBuildOptions, benchPageBuildOptions, testPageBuildOptions } from '../../scripts/web-bundles.mjs';

const bundles: [string, () => BuildOptions][] = [['app', appBuildOptions], ['bench page', benchPageBuildOptions], ['test page', testPageBuildOptions]];

describe('browser bundles', () => {
  for (const [name, options] of bundles) {
    it(`${name}: no static import of a node: module`, async () => {
      const r = await build({ ...options(), write: false, outdir: '/tmp/wgrad-bundle-check', metafile: true, logLevel: 'silent' });
      const bad = Object.entries(r.metafile!.inputs).flatMap(([file, info]) =>
        info.imports.filter((i) => i.path.startsWith('node:') && i.kind !== 'dynamic-import').map((i) => `${file} imports ${i.path}`));
      expect(bad).toEqual([]);
    }, 60_000);
  }
});
