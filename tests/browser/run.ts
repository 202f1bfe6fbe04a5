// Drives headless Chromium over the core-test page: bundle tests/browser/page.ts in memory,
// serve it on 127.0.0.1, open it with puppeteer-core, wait for window.__wgrad.done and return
// the report. Node only; used by tests/browser/browser.test.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import puppeteer from 'puppeteer-core';
import { testPageBuildOptions } from '../../scripts/web-bundles.mjs';
import type { PageReport } from './report.ts';
import { serveFiles } from './serve.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Where a Chromium might be; WGRAD_CHROMIUM overrides. CI installs Debian's `chromium`. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium(): string | undefined {
  const override = process.env.WGRAD_CHROMIUM;
  if (override) return existsSync(override) ? override : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/** What to tell someone whose machine has no Chromium. */
export function chromiumMissingMessage(): string {
  const override = process.env.WGRAD_CHROMIUM;
  const looked = override ? `WGRAD_CHROMIUM=${override} does not exist` : `looked at ${CANDIDATES.join(', ')}`;
  return (
    `Chromium not found (${looked}). Install it: apt-get install -y chromium libvulkan1 mesa-vulkan-drivers ` +
    `(or point WGRAD_CHROMIUM at a Chromium/Chrome binary), or set WGRAD_SKIP_BROWSER=1 to skip the browser suite.`
  );
}

// A throwaway, quiet browser: no sandbox (CI runs as root in a container), WebGPU on, nothing
// phoning home. WebGPU lands on SwiftShader (Vulkan) when no GPU is present.
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-dev-shm-usage',
];

export interface BrowserRun {
  report: PageReport;
  /** Console lines and page errors, for diagnosing a page that never finished. */
  console: string[];
  adapterFlags: string[];
}

async function bundlePage(): Promise<Map<string, string | Uint8Array>> {
  const result = await build({ ...testPageBuildOptions(), write: false, outdir: join(root, 'dist', 'web') });
  const files = new Map<string, string | Uint8Array>();
  for (const f of result.outputFiles ?? []) files.set(`/${basename(f.path)}`, f.contents);
  files.set('/index.html', readFileSync(join(root, 'web', 'test.html'), 'utf8'));
  return files;
}

export async function runBrowserSuite(opts: { timeoutMs: number; extraArgs?: string[] }): Promise<BrowserRun> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(chromiumMissingMessage());
  const server = await serveFiles(await bundlePage());
  const profile = mkdtempSync(join(tmpdir(), 'wgrad-chromium-'));
  const consoleLines: string[] = [];
  const args = [...CHROMIUM_ARGS, ...(opts.extraArgs ?? [])];
  const browser = await puppeteer.launch({
    executablePath,
    userDataDir: profile,
    args,
    headless: true, // '--headless=new' above picks the mode; this keeps puppeteer from adding its own UI flags
    timeout: 60_000,
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e instanceof Error ? e.message : String(e)}`));
    await page.goto(server.url, { waitUntil: 'load', timeout: 30_000 });
    try {
      await page.waitForFunction('globalThis.__wgrad && globalThis.__wgrad.done', {
        timeout: opts.timeoutMs,
        polling: 250,
      });
    } catch (e) {
      const partial = (await page.evaluate('JSON.stringify(globalThis.__wgrad ?? null)')) as string;
      throw new Error(
        `test page did not finish in ${opts.timeoutMs} ms (${e instanceof Error ? e.message : e}).\n` +
          `partial report: ${partial}\nconsole:\n${consoleLines.join('\n')}`,
      );
    }
    const report = JSON.parse((await page.evaluate('JSON.stringify(globalThis.__wgrad)')) as string) as PageReport;
    return { report, console: consoleLines, adapterFlags: args };
  } finally {
    await browser.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
