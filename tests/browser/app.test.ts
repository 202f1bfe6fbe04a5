// The web app, proven in headless Chromium (SwiftShader WebGPU): load stories260K from the server,
// drop alpaca_tiny, import a config.yaml, train 5 LoRA SFT steps in the worker while the page
// answers input, see the charts fill and the loss fall, download the adapter and compare it with
// the same run of `wgrad train` on the cpu backend (1e-4); reload mid-run, accept the offered
// checkpoint and resume to the same adapter; every request stays on the page's origin.
// Screenshots of each screen go to tests/browser/screenshots/ (git-ignored).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import type { ElementHandle } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../llm/io/safetensors.ts';
import { asset, haveAssets, skipNote } from '../io/shared-assets.ts';
import { appState, downloaded, openApp, waitApp, type AppSession } from './app-harness.ts';
import { findChromium } from './run.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(MODEL, DATA) && process.env.WGRAD_SKIP_BROWSER !== '1' && !!findChromium();
const shots = fileURLToPath(new URL('./screenshots/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-app-test-'));

// The run, as a config.yaml the app imports and `wgrad train --config` reads.
const OPTIONS = {
  'max-steps': 5, 'batch-size': 2, 'learning-rate': 0.003, 'lr-schedule': 'constant', 'max-length': 128,
  'lora-r': 4, 'lora-alpha': 8, 'lora-targets': 'q_proj,v_proj', seed: 1, 'save-every': 1,
  // The same 10 held-out rows evaluated after steps 4 and 5: the loss that must fall.
  'val-fraction': 0.1, 'eval-every': 4,
};
const toYaml = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
const yaml = toYaml(OPTIONS);
// The resumed run: evaluation changes no weight, so it is left to the end to save time.
const resumeYaml = toYaml({ ...OPTIONS, 'eval-every': 100 });

type Tensors = Map<string, Float32Array>;

function adapterTensors(bytes: Uint8Array, file: string): Tensors {
  const st = readSafetensors(bytes, file);
  return new Map([...st.tensors].map(([k, t]) => [k, Float32Array.from(t.data as Float32Array)]));
}

function maxDiff(a: Tensors, b: Tensors): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let m = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    expect(x.length, k).toBe(y.length);
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

/** The same run from the command line, on the cpu backend. */
async function cliAdapter(): Promise<Tensors> {
  const out = join(tmp, 'cli');
  const cfg = join(tmp, 'run.yaml');
  writeFileSync(cfg, yaml);
  const { main } = await import('../../cli/program.ts');
  expect(await main(['train', '--config', cfg, '--model', asset(MODEL), '--data', asset(DATA), '--output-dir', out, '--backend', 'cpu'])).toBe(0);
  const file = join(out, 'adapter', 'adapter_model.safetensors');
  return adapterTensors(new Uint8Array(readFileSync(file)), file);
}

async function upload(s: AppSession, id: string, file: string): Promise<void> {
  const input = (await s.page.$(`#${id}`)) as ElementHandle<HTMLInputElement> | null;
  await input!.uploadFile(file);
}

async function setUpRun(s: AppSession, config = 'run.yaml'): Promise<void> {
  await waitApp(s, 'globalThis.__wgradApp.model !== undefined', 30_000);
  await upload(s, 'data-file', asset(DATA));
  await waitApp(s, 'globalThis.__wgradApp.data !== undefined', 30_000);
  await upload(s, 'config-import', join(tmp, config));
  await s.page.waitForFunction(`document.getElementById('opt-max-steps').value === '5'`, { timeout: 10_000 });
}

async function exportAdapter(s: AppSession): Promise<{ tensors: Tensors; files: string[] }> {
  await s.page.click('button[data-tab="export"]');
  await s.page.click('#export-adapter');
  const zip = unzipSync(await downloaded(s, 'wgrad-adapter.zip'));
  return { tensors: adapterTensors(zip['adapter/adapter_model.safetensors'], 'adapter/adapter_model.safetensors'), files: Object.keys(zip).sort() };
}

describe(`the web app in headless Chromium${skipNote(ok)}`, () => {
  let s: AppSession;
  let origin = '';
  let first: Tensors;
  beforeAll(async () => {
    if (!ok) return;
    mkdirSync(shots, { recursive: true });
    writeFileSync(join(tmp, 'run.yaml'), yaml);
    writeFileSync(join(tmp, 'resume.yaml'), resumeYaml);
    s = await openApp(`?backend=${process.env.WGRAD_APP_BACKEND ?? 'auto'}&model=${encodeURIComponent('/shared/models/stories260K-hf/')}`);
    origin = new URL(s.server.url).origin;
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it.skipIf(!ok)('trains 5 SFT steps in the worker, the page stays responsive, and the adapter matches the CLI on cpu', { timeout: 120_000 }, async () => {
    await setUpRun(s);
    await s.page.screenshot({ path: join(shots, 'model-and-data.png') });
    await s.page.click('button[data-tab="train"]');
    await s.page.click('#start');
    await waitApp(s, 'globalThis.__wgradApp.steps.length >= 1', Number(process.env.WGRAD_APP_FIRST_STEP_MS ?? 60_000));
    // An input event is handled while the worker trains.
    await s.page.click('button[data-tab="try"]');
    const before = (await s.page.evaluate('globalThis.__wgradApp.inputEvents')) as number;
    const t0 = performance.now();
    await s.page.type('#prompt', ' x');
    const handled = (await s.page.evaluate('[globalThis.__wgradApp.inputEvents, globalThis.__wgradApp.run]')) as [number, string];
    expect(handled[0]).toBe(before + 2);
    expect(handled[1], 'the input was handled during the run').toBe('running');
    expect(performance.now() - t0).toBeLessThan(5_000);
    // The same run from the command line meanwhile (the other core).
    const cli = cliAdapter();
    await s.page.click('button[data-tab="train"]');
    await waitApp(s, `['done', 'stopped', 'error'].includes(globalThis.__wgradApp.run)`, 90_000);
    const st = JSON.parse(await appState(s));
    expect(st.run).toBe('done');
    expect(st.steps.map((r: { step: number }) => r.step)).toEqual([1, 2, 3, 4, 5]);
    // After step 4, and the final evaluation after step 5.
    expect(st.evals.map((r: { step: number }) => r.step)).toEqual([4, 5]);
    expect(st.evals[1].eval_loss).toBeLessThan(st.evals[0].eval_loss);
    expect(st.charts.loss).toBe(5);
    expect(st.charts.eval_loss).toBe(2);
    expect(st.charts['grad_norm']).toBe(5);
    await s.page.screenshot({ path: join(shots, 'train.png') });

    const app = await exportAdapter(s);
    expect(app.files).toEqual(['adapter-mlx/adapter_config.json', 'adapter-mlx/adapters.safetensors', 'adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'config.yaml', 'metrics.jsonl']);
    await s.page.screenshot({ path: join(shots, 'export.png') });
    first = app.tensors;
    const diff = maxDiff(first, await cli);
    console.log(`app (${st.device.description}) vs wgrad train --backend cpu: max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);

    await s.page.click('button[data-tab="try"]');
    await s.page.$eval('#max-new', (el) => { (el as HTMLInputElement).value = '12'; });
    await s.page.click('#generate');
    await s.page.waitForFunction(`document.getElementById('gen-off').textContent.length > 3 && document.getElementById('gen-off').textContent !== '…'`, { timeout: 30_000 });
    await s.page.screenshot({ path: join(shots, 'try.png') });
  });

  it.skipIf(!ok)('offers the checkpoint after a reload mid-run and resumes to the same adapter', { timeout: 120_000 }, async () => {
    expect(first, 'needs the first run').toBeDefined();
    await s.page.reload({ waitUntil: 'load' });
    await setUpRun(s, 'resume.yaml');
    await s.page.click('button[data-tab="train"]');
    await s.page.click('#start');
    await waitApp(s, 'globalThis.__wgradApp.steps.length >= 3', 60_000);
    await s.page.reload({ waitUntil: 'load' });
    await s.page.waitForFunction(`!document.getElementById('resume-banner').hidden`, { timeout: 30_000 });
    const saved = JSON.parse(await appState(s)).saved;
    expect(saved.step).toBeGreaterThanOrEqual(2);
    expect(saved.finished).toBe(false);
    await s.page.screenshot({ path: join(shots, 'resume-offer.png') });
    await waitApp(s, 'globalThis.__wgradApp.model !== undefined', 30_000);
    await s.page.click('#resume-run');
    await waitApp(s, `['done', 'stopped', 'error'].includes(globalThis.__wgradApp.run)`, 90_000);
    const st = JSON.parse(await appState(s));
    expect(st.run).toBe('done');
    expect(st.steps[0].step).toBe(saved.step + 1);
    const resumed = await exportAdapter(s);
    expect(maxDiff(resumed.tensors, first)).toBeLessThan(1e-6);
  });

  it.skipIf(!ok)('runs a benchmark in its tab (chart, JSON, the adapter fingerprint); every request went to its own origin', { timeout: 60_000 }, async () => {
    await s.page.click('button[data-tab="bench"]');
    await s.page.waitForFunction(`document.getElementById('fingerprint').textContent.includes('maxStorageBufferBindingSize')`, { timeout: 10_000 });
    // One quick kernel row on the cpu backend: the tab charts it and the page downloads the JSON.
    await s.page.$eval('#bench-frame', (f) => { (f as HTMLIFrameElement).src = './bench.html?suite=kernels&quick=1&backend=cpu&only=add_&run=1'; });
    await waitApp(s, 'globalThis.__wgradApp.benchRows > 0', 30_000);
    const files = readdirSync(s.downloads).filter((f) => /^wgrad-bench-kernels-cpu-quick-.*\.json$/.test(f));
    expect(files.length, `bench JSON downloaded (${readdirSync(s.downloads).join(', ')})`).toBe(1);
    expect(JSON.parse(readFileSync(join(s.downloads, files[0]), 'utf8')).rows.length).toBeGreaterThan(0);
    await s.page.screenshot({ path: join(shots, 'bench.png'), fullPage: true });
    const foreign = s.requests.filter((u) => !(u.startsWith(`${origin}/`) || u.startsWith('blob:') || u.startsWith('data:')));
    expect(s.requests.length).toBeGreaterThan(5);
    expect(foreign, `requests that left the origin: ${foreign.join(', ')}`).toEqual([]);
  });
});
