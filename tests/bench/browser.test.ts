// The browser benchmark page (web/bench.html + bench/web/page.ts) in headless Chromium on
// SwiftShader: the quick kernels suite runs through the page's URL-driven form, every correctness
// check passes, and the result file it would download validates. Skipped with WGRAD_SKIP_BROWSER=1.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';
import { describe, expect, it } from 'vitest';
import type { BenchPageState } from '../../bench/web/page.ts';
import { SUITE_REGISTRY } from '../../bench/suites.ts';
import { validateBenchFile } from '../../bench/validate.ts';
import { benchPageBuildOptions } from '../../scripts/web-bundles.mjs';
import { CHROMIUM_ARGS, chromiumMissingMessage, findChromium } from '../browser/run.ts';
import { serveFiles } from '../browser/serve.ts';

const skip = process.env.WGRAD_SKIP_BROWSER === '1';
const root = new URL('../..', import.meta.url);

describe.skipIf(skip)('bench page in headless Chromium', () => {
  it('runs the quick kernels suite on WebGPU and produces a valid result file', { timeout: 330_000 }, async () => {
    // 50-105 s on SwiftShader on 2 busy cores (every quick kernel compiles its pipelines), so the
    // limits sit at three times the slowest seen.
    const executablePath = findChromium();
    expect(executablePath, chromiumMissingMessage()).toBeTruthy();
    const out = await build({ ...benchPageBuildOptions(), write: false, outdir: '/dist/web' });
    const files = new Map<string, string | Uint8Array>(out.outputFiles!.map((f) => [`/${basename(f.path)}`, f.contents]));
    files.set('/index.html', readFileSync(new URL('web/bench.html', root), 'utf8'));
    const server = await serveFiles(files);
    const profile = mkdtempSync(join(tmpdir(), 'wgrad-chromium-'));
    const browser = await puppeteer.launch({ executablePath, userDataDir: profile, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    const lines: string[] = [];
    try {
      const page = await browser.newPage();
      page.on('pageerror', (e) => lines.push(`[pageerror] ${e instanceof Error ? e.message : String(e)}`));
      await page.goto(`${server.url}?suite=kernels&quick=1&backend=webgpu&download=0&run=1`, { waitUntil: 'load' });
      await page.waitForFunction('globalThis.__wgradBench && globalThis.__wgradBench.done', { timeout: 310_000, polling: 250 });
      const state = JSON.parse((await page.evaluate('JSON.stringify(globalThis.__wgradBench)')) as string) as BenchPageState;
      const context = `\n${[...state.log, ...lines].join('\n')}`;
      expect(state.error, context).toBeUndefined();
      const f = validateBenchFile(state.file, 'page result');
      expect(f.runtime.name).toBe('browser');
      expect(f.runtime.userAgent).toMatch(/Chrome/);
      expect(f.device.backend).toBe('webgpu');
      expect(f.engine.commit, 'the bundle carries the git commit').toMatch(/^[0-9a-f]{40}$/);
      expect(f.rows.map((r) => r.id)).toEqual(SUITE_REGISTRY.kernels.workloads('quick').map((w) => w.id));
      for (const r of f.rows) expect(r.check?.passed, `${r.id}${context}`).toBe(true);
      console.log(`bench page: ${f.device.name}, ${f.rows.length} rows, timing ${[...new Set(f.rows.map((r) => r.timing))].join('/')}`);
    } finally {
      await browser.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
