// The app page: tabs, file pickers and drop zones, the settings form, live charts, and the buttons
// that drive the training worker (web/app/worker/worker.ts) through comlink. Nothing heavy runs
// here, so the page answers input while a run goes on. State for headless drivers (the Chromium
// test) is on window.__wgradApp.
import * as Comlink from 'comlink';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import type { TrainOptionValues } from '../../llm/index.ts';
import { watchBench } from './bench-chart.ts';
import { Charts } from './charts.ts';
import { fromYaml, toYaml } from './config-yaml.ts';
import { formatBytes, formatDuration } from './format.ts';
import type { DataPreview, DeviceInfo, ModelInfo, RunEvent, SavedRun } from './protocol.ts';
import { buildForm, readValues, setValues } from './settings-form.ts';
import type { WorkerApi } from './worker/worker.ts';

export interface AppState {
  device?: DeviceInfo;
  model?: ModelInfo;
  data?: DataPreview;
  run: 'idle' | 'running' | 'paused' | 'done' | 'stopped' | 'error';
  steps: Record<string, number | null>[];
  evals: Record<string, number>[];
  charts: Record<string, number>;
  error?: string;
  saved?: SavedRun | null;
  inputEvents: number;
  downloads: string[];
  busy: number;
  /** Rows of the benchmark result charted in the Benchmarks tab. */
  benchRows?: number;
}

const state: AppState = { run: 'idle', steps: [], evals: [], charts: {}, inputEvents: 0, downloads: [], busy: 0 };
(globalThis as unknown as { __wgradApp: AppState }).__wgradApp = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const worker = Comlink.wrap<WorkerApi>(new Worker(new URL('./app-worker.js', import.meta.url), { type: 'module', name: 'wgrad-train' }));
const charts = new Charts($('charts'));
const form = $<HTMLFormElement>('settings');

function fail(where: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  state.error = `${where}: ${msg}`;
  log(`error: ${state.error}`);
}

function log(line: string): void {
  console.log(`wgrad: ${line}`);
  const el = $('log');
  el.textContent += `${line}\n`;
  el.scrollTop = el.scrollHeight;
}

/** Runs an action with its button disabled; errors go to the given element and the state. */
async function act(where: string, out: HTMLElement | null, fn: () => Promise<void>): Promise<void> {
  state.busy++;
  try {
    if (out) out.classList.remove('error');
    await fn();
  } catch (e) {
    fail(where, e);
    if (out) { out.textContent = (e as Error).message ?? String(e); out.classList.add('error'); }
  } finally {
    state.busy--;
  }
}

function table(rows: [string, string | number][]): HTMLTableElement {
  const t = document.createElement('table');
  for (const [k, v] of rows) {
    const tr = t.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = String(v);
  }
  return t;
}

// ---- tabs ----
function showTab(name: string): void {
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#tabs button'))) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of Array.from(document.querySelectorAll<HTMLElement>('section.tab'))) s.hidden = s.id !== `tab-${name}`;
  if (name === 'bench') {
    const f = $<HTMLIFrameElement>('bench-frame');
    if (!f.src) {
      f.src = f.dataset.src!;
      watchBench(f, $('bench-chart'), (rows) => { state.benchRows = rows; });
    }
  }
}
for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#tabs button'))) b.addEventListener('click', () => showTab(b.dataset.tab!));

// ---- device ----
function showDevice(d: DeviceInfo): void {
  const badge = $('device');
  const name = [d.adapter?.vendor, d.adapter?.architecture, d.adapter?.description].filter(Boolean).join(' ') || d.description;
  badge.textContent = d.backend === 'webgpu' ? `WebGPU: ${name}${d.software ? ' (software renderer)' : ''}` : `cpu backend${d.skippedAdapter ? ` (WebGPU adapter: ${d.skippedAdapter}, software)` : ''}`;
  badge.className = `badge ${d.backend === 'cpu' ? 'cpu' : d.software ? 'software' : ''}`;
  const notice = $('notice');
  const lines: string[] = [];
  if (d.backend === 'cpu') lines.push(`Training runs on the cpu backend (plain JavaScript, slow): ${d.fallbackReason ?? 'chosen with ?backend=cpu'}.`);
  else if (d.software) lines.push(`This WebGPU adapter is a software renderer (${d.adapter?.vendor} ${d.adapter?.architecture} ${d.adapter?.description}): it runs on the CPU, far slower than a GPU.`);
  notice.textContent = lines.join(' ');
  notice.hidden = !lines.length;
  $('fingerprint').textContent = JSON.stringify({ training: { backend: d.backend, description: d.description }, webgpu: d.webgpu ? { ...d.webgpu, software: d.software || !!d.skippedAdapter } : 'none (no WebGPU in this browser)' }, null, 1);
}

// ---- model ----
function showModel(m: ModelInfo): void {
  const el = $('model-info');
  el.textContent = '';
  const rows: [string, string | number][] = [
    ['architecture', m.architecture], ['parameters', m.parameters.toLocaleString('en')], ['hidden size', m.hidden], ['vocabulary', m.vocab],
    ['weights (float32)', formatBytes(m.weightBytes)], ['largest buffer', formatBytes(m.largestBuffer)],
  ];
  if (m.bufferLimit !== null) rows.push(['adapter buffer limit', formatBytes(m.bufferLimit)]);
  el.append(table(rows));
  if (m.bufferLimit !== null && m.largestBuffer > m.bufferLimit) {
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = `Too large for this adapter: its largest tensor needs ${formatBytes(m.largestBuffer)} in one buffer, the adapter allows ${formatBytes(m.bufferLimit)}.`;
    el.append(p);
  }
  void updateEstimate();
}

async function loadModel(how: () => Promise<ModelInfo>): Promise<void> {
  const el = $('model-info');
  el.textContent = 'loading…';
  await act('model', el, async () => {
    state.model = await how();
    showModel(state.model);
  });
}

$('model-url-load').addEventListener('click', () => void loadModel(() => worker.loadModelFromUrl(($('model-url') as HTMLInputElement).value)));
$<HTMLInputElement>('model-dir').addEventListener('change', (e) => {
  const files = Array.from((e.target as HTMLInputElement).files ?? []);
  if (files.length) void loadModel(() => worker.loadModelFromFiles(files));
});

// ---- data ----
function showData(d: DataPreview): void {
  const el = $('data-preview');
  el.textContent = '';
  el.append(table([
    ['file', `${d.name} (${formatBytes(d.bytes)})`], ['rows', d.rows], ['row formats', Object.entries(d.formats).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['training examples', d.examples], ['invalid rows', d.invalid], ['truncated', d.truncated],
    ...(d.tokens ? [['tokens (loss tokens)', `${d.tokens} (${d.lossTokens})`] as [string, string]] : []),
  ]));
  if (d.errors.length) {
    const p = document.createElement('div');
    p.className = 'error';
    p.textContent = d.errors.join('\n');
    el.append(p);
  }
  const rows = document.createElement('div');
  rows.className = 'rows';
  rows.textContent = d.head.join('\n');
  el.append(rows);
}

let dataFile: File | null = null;
async function loadData(file: File): Promise<void> {
  dataFile = file;
  const el = $('data-preview');
  if (!state.model) { el.textContent = `${file.name}: load a model first (its tokenizer counts the tokens)`; return; }
  el.textContent = 'reading…';
  await act('data', el, async () => {
    state.data = await worker.loadData(file, readValues(form));
    showData(state.data);
  });
}
$<HTMLInputElement>('data-file').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) void loadData(f);
});

function dropZone(zone: HTMLElement, onFiles: (files: File[]) => void): void {
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const files = Array.from(e.dataTransfer?.files ?? []);
    if (files.length) onFiles(files);
  });
}
dropZone($('model-drop'), (files) => void loadModel(() => worker.loadModelFromFiles(files)));
dropZone($('data-drop'), (files) => void loadData(files[0]));

// ---- settings ----
buildForm(form);
async function updateEstimate(): Promise<void> {
  const err = $('settings-error');
  let v: TrainOptionValues;
  try { v = readValues(form); err.textContent = ''; } catch (e) { err.textContent = (e as Error).message; return; }
  if (!state.model) return;
  const est = await worker.estimate(v);
  const el = $('estimate');
  el.textContent = '';
  el.append(table([
    ['weights', formatBytes(est.weights)], ['trainable', formatBytes(est.trainable)], ['gradients + optimizer', formatBytes(est.optimizer)],
    ['activations (about)', formatBytes(est.activations)], ['memory needed (about)', formatBytes(est.total)], ['each checkpoint', formatBytes(est.checkpoint / 2)],
  ]));
}
form.addEventListener('change', () => void updateEstimate());
$<HTMLInputElement>('config-import').addEventListener('change', async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (!f) return;
  await act('config', $('settings-error'), async () => {
    setValues(form, fromYaml(await f.text(), f.name));
    await updateEstimate();
  });
});
$('config-export').addEventListener('click', () => {
  try {
    download('config.yaml', toYaml(readValues(form), modelName(), state.data?.name ?? 'DATA'));
  } catch (e) { $('settings-error').textContent = (e as Error).message; }
});

function modelName(): string {
  const s = state.model?.source;
  return s?.kind === 'url' ? s.base : 'MODEL_DIR';
}

// ---- training ----
const buttons = { start: $<HTMLButtonElement>('start'), pause: $<HTMLButtonElement>('pause'), resume: $<HTMLButtonElement>('resume'), stop: $<HTMLButtonElement>('stop') };
function setRun(run: AppState['run']): void {
  state.run = run;
  const active = run === 'running' || run === 'paused';
  buttons.start.disabled = active;
  buttons.pause.disabled = run !== 'running';
  buttons.resume.disabled = run !== 'paused';
  buttons.stop.disabled = !active;
}

let t0 = 0, firstStep = 0, maxSteps = 1;
function onEvent(e: RunEvent): void {
  if (e.type === 'step') {
    const r = e.record;
    state.steps.push(r);
    const step = r.step as number;
    if (!t0) { t0 = performance.now(); firstStep = step; }
    for (const [k, v] of Object.entries(r)) if (!['step', 'tokens', 'epoch'].includes(k)) charts.add(k, step, v);
    charts.add('memory (MB)', step, e.memoryBytes / 2 ** 20);
    console.log(`wgrad: step ${step} loss ${r.loss}`);
    state.charts = charts.counts();
    const done = step - firstStep;
    const eta = done > 0 ? ((performance.now() - t0) / done) * (maxSteps - step) : NaN;
    ($('progress') as HTMLProgressElement).value = step / maxSteps;
    $('status').textContent = `step ${step}/${maxSteps} · loss ${(r.loss as number).toFixed(4)} · ${(r.tokens_per_second as number).toFixed(0)} tokens/s · ETA ${formatDuration(eta)}`;
  } else if (e.type === 'eval') {
    state.evals.push(e.record);
    for (const [k, v] of Object.entries(e.record)) if (k !== 'step') charts.add(k, e.record.step, v);
    state.charts = charts.counts();
  } else if (e.type === 'state') setRun(e.state === 'paused' ? 'paused' : 'running');
  else log(e.text);
}

async function train(resume: boolean): Promise<void> {
  const err = $('settings-error');
  let v: TrainOptionValues;
  try { v = resume && state.saved ? state.saved.options : readValues(form); } catch (e) { err.textContent = (e as Error).message; return; }
  if (!state.model) { err.textContent = 'load a model first (tab 1)'; return; }
  if (!resume && !state.data) { err.textContent = 'drop a data file first (tab 1)'; return; }
  maxSteps = (v['max-steps'] as number | undefined) ?? 100;
  t0 = 0;
  if (!resume) { charts.clear(); state.steps = []; state.evals = []; }
  state.error = undefined;
  setRun('running');
  showTab('train');
  log(resume ? `resuming from step ${state.saved?.step}` : `training: ${JSON.stringify(v)}`);
  try {
    const s = await worker.train(v, resume, Comlink.proxy(onEvent));
    setRun(s.stopped ? 'stopped' : 'done');
    $('status').textContent = `${s.stopped ? 'stopped' : 'done'} after step ${s.steps}: loss ${s.finalLoss?.toFixed(4) ?? '-'}${s.evalLoss !== null ? `, eval loss ${s.evalLoss.toFixed(4)}` : ''}`;
    $('resume-banner').hidden = true;
  } catch (e) {
    fail('training', e);
    setRun('error');
    $('status').textContent = `error: ${(e as Error).message}`;
  }
}
buttons.start.addEventListener('click', () => void train(false));
buttons.pause.addEventListener('click', () => void worker.pause());
buttons.resume.addEventListener('click', () => void worker.resume());
buttons.stop.addEventListener('click', () => { setRun('running'); $('status').textContent = 'stopping after this step…'; void worker.stop(); });

// ---- try it ----
$('prompt').addEventListener('input', () => { state.inputEvents++; });
$('generate').addEventListener('click', () => void act('generate', $('gen-on'), async () => {
  $('gen-on').textContent = '…';
  $('gen-off').textContent = '…';
  const r = await worker.generate(($('prompt') as HTMLTextAreaElement).value, Number(($('max-new') as HTMLInputElement).value), Number(($('temperature') as HTMLInputElement).value));
  $('gen-on').textContent = r.withAdapter;
  $('gen-off').textContent = r.withoutAdapter ?? '(no adapter trained yet: both are the base model)';
}));

// ---- export ----
function download(name: string, data: Uint8Array | string): void {
  const url = URL.createObjectURL(new Blob([data as BlobPart]));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
  state.downloads.push(name);
}
for (const [id, kind] of [['export-adapter', 'adapter'], ['export-merged', 'merged']] as const) {
  $(id).addEventListener('click', () => void act('export', $('export-status'), async () => {
    $('export-status').textContent = 'writing…';
    const zip = await worker.exportZip(kind);
    download(kind === 'adapter' ? 'wgrad-adapter.zip' : 'wgrad-merged.zip', zip);
    $('export-status').textContent = `downloaded ${formatBytes(zip.length)}`;
  }));
}
$('export-metrics').addEventListener('click', () => void act('export', $('export-status'), async () => download('metrics.jsonl', await worker.metrics())));
$('export-config').addEventListener('click', () => $('config-export').click());

// ---- resume after a reload ----
async function offerResume(): Promise<void> {
  const saved = await worker.savedRun();
  state.saved = saved;
  if (!saved || saved.finished || saved.step === 0) return;
  const where = saved.model.kind === 'url' ? saved.model.base : `the folder with ${saved.model.files.map((f) => f.name).join(', ')}`;
  $('resume-text').textContent = `A run stopped at step ${saved.step} of ${saved.maxSteps} (model ${where}, data ${saved.data.name}). Resume it from that checkpoint?`;
  $('resume-banner').hidden = false;
  setValues(form, saved.options);
}
$('resume-run').addEventListener('click', () => void act('resume', $('settings-error'), async () => {
  const saved = state.saved!;
  if (!state.model && saved.model.kind === 'url') await loadModel(() => worker.loadModelFromUrl((saved.model as { base: string }).base));
  else if (!state.model) throw new Error('pick the same model folder in tab 1, then press Resume again');
  if (!state.model) throw new Error(state.error ?? 'the model did not load');
  await train(true);
}));
$('discard-run').addEventListener('click', () => void worker.discardRun().then(() => { $('resume-banner').hidden = true; state.saved = null; }));

// ---- start ----
async function start(): Promise<void> {
  const choice = (params.get('backend') ?? 'auto') as 'auto' | 'webgpu' | 'cpu';
  state.device = await worker.init(choice);
  showDevice(state.device);
  await offerResume();
  const model = params.get('model');
  if (model) { ($('model-url') as HTMLInputElement).value = model; await loadModel(() => worker.loadModelFromUrl(model)); }
  if (dataFile) await loadData(dataFile);
}
setRun('idle');
start().catch((e) => { fail('start', e); $('device').textContent = `failed: ${(e as Error).message}`; });
