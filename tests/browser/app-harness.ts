// Drives the web app in headless Chromium: builds it into a temporary folder (as scripts/build.mjs
// does), starts the server `wgrad serve` runs (cli/server) with one extra route serving
// ../shared/assets under /shared/, opens the page with downloads going to a folder, and records
// every request the page and its worker make. Node only; used by tests/browser/app.test.ts.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { appBuildOptions, benchPageBuildOptions, webStaticFiles } from '../../scripts/web-bundles.mjs';
import { startServer, type RunningServer } from '../../cli/server/server.ts';
import { staticFiles } from '../../cli/server/static.ts';
import { ASSETS } from '../io/shared-assets.ts';
import { CHROMIUM_ARGS, chromiumMissingMessage, findChromium } from './run.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface AppSession {
  server: RunningServer;
  browser: Browser;
  page: Page;
  /** Every URL requested by the page and its worker, in order. */
  requests: string[];
  console: string[];
  downloads: string;
  close(): Promise<void>;
}

export async function buildApp(outdir: string): Promise<void> {
  await Promise.all([build({ ...appBuildOptions(), outdir }), build({ ...benchPageBuildOptions(), outdir })]);
  for (const [src, name] of webStaticFiles) copyFileSync(join(root, src), join(outdir, name));
}

export async function openApp(query: string): Promise<AppSession> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(chromiumMissingMessage());
  const work = mkdtempSync(join(tmpdir(), 'wgrad-app-'));
  const web = join(work, 'web');
  const downloads = join(work, 'downloads');
  mkdirSync(web);
  mkdirSync(downloads);
  await buildApp(web);
  const server = await startServer({ root: web, port: 0, routes: [staticFiles(ASSETS, { prefix: '/shared/' })] });
  const browser = await puppeteer.launch({ executablePath, userDataDir: join(work, 'profile'), args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  const requests: string[] = [];
  const consoleLines: string[] = [];
  // Requests of the page and of its worker (a dedicated worker's fetches go through the page's network).
  browser.on('targetcreated', async (t) => {
    const s = await t.createCDPSession().catch(() => null);
    if (!s || t.type() === 'page') return;
    await s.send('Network.enable').catch(() => undefined);
    s.on('Network.requestWillBeSent', (e) => requests.push(e.request.url));
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 860 });
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e instanceof Error ? e.message : String(e)}`));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  await page.goto(`${server.url}${query}`, { waitUntil: 'load', timeout: 30_000 });
  return {
    server, browser, page, requests, console: consoleLines, downloads,
    close: async () => {
      await browser.close();
      await server.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Waits for a condition on window.__wgradApp; fails with the app's error and console when it never holds. */
export async function waitApp(s: AppSession, condition: string, timeoutMs: number): Promise<void> {
  try {
    await s.page.waitForFunction(`(() => { const a = globalThis.__wgradApp; if (a && a.error) return true; return ${condition}; })()`, { timeout: timeoutMs, polling: 100 });
  } catch (e) {
    throw new Error(`app never reached ${condition}: ${(e as Error).message}\nstate: ${await appState(s)}\nconsole:\n${s.console.slice(-30).join('\n')}`);
  }
  const err = (await s.page.evaluate('globalThis.__wgradApp.error')) as string | undefined;
  if (err) throw new Error(`app error while waiting for ${condition}: ${err}\nconsole:\n${s.console.slice(-30).join('\n')}`);
}

export async function appState(s: AppSession): Promise<string> {
  return (await s.page.evaluate('JSON.stringify(globalThis.__wgradApp ?? null)')) as string;
}

/** The bytes of a downloaded file once it is complete. */
export async function downloaded(s: AppSession, name: string, timeoutMs = 20_000): Promise<Uint8Array> {
  const path = join(s.downloads, name);
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (existsSync(path) && !readdirSync(s.downloads).some((f) => f.endsWith('.crdownload'))) {
      const bytes = new Uint8Array(readFileSync(path));
      rmSync(path);
      return bytes;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`download ${name} did not arrive in ${timeoutMs} ms (folder: ${readdirSync(s.downloads).join(', ') || 'empty'})`);
}
