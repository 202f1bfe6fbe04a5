// The browser benchmark page (web/bench.html): runs the chosen suite on this browser's WebGPU
// adapter (GPU timestamps where the browser grants 'timestamp-query') or the cpu backend, shows the
// rows as they finish and downloads the result file. State for headless drivers: window.__wgradBench.
import { createBackend } from '../../backends/select.ts';
import { benchFailures, runBench } from '../run.ts';
import type { BenchFile, SuiteName } from '../schema.ts';
import { SUITES } from '../schema.ts';
import { validateBenchFile } from '../validate.ts';

export interface BenchPageState { running: boolean; done: boolean; file?: BenchFile; error?: string; log: string[] }
const state: BenchPageState = { running: false, done: false, log: [] };
(globalThis as unknown as { __wgradBench: BenchPageState }).__wgradBench = state;

const form = document.getElementById('form') as HTMLFormElement;
const logEl = document.getElementById('log')!;
const button = document.getElementById('run') as HTMLButtonElement;

function show(line: string, fail = false): void {
  state.log.push(line);
  const div = document.createElement('div');
  if (fail) div.className = 'fail';
  div.textContent = line;
  logEl.appendChild(div);
}

function download(f: BenchFile): void {
  const name = `wgrad-bench-${f.suites.join('-')}-${f.device.backend}-${f.mode}-${f.date.slice(0, 19).replace(/[:T]/g, '')}.json`;
  const url = URL.createObjectURL(new Blob([JSON.stringify(f, null, 1) + '\n'], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  show(`downloaded ${name}`);
}

async function run(): Promise<void> {
  if (state.running) return;
  const data = new FormData(form);
  const suite = String(data.get('suite'));
  const suites: SuiteName[] = suite === 'all' ? [...SUITES] : [suite as SuiteName];
  const backendName = String(data.get('backend')) as 'webgpu' | 'cpu';
  const only = new URLSearchParams(location.search).get('only')?.split(',').filter(Boolean);
  Object.assign(state, { running: true, done: false, file: undefined, error: undefined, log: [] });
  logEl.textContent = '';
  button.disabled = true;
  let backend;
  try {
    backend = await createBackend({ backend: backendName, timestampQuery: true });
    const file = await runBench({ suites, mode: data.get('quick') ? 'quick' : 'full', backend, only, log: (l) => show(l) });
    validateBenchFile(file, 'this run');
    state.file = file;
    for (const f of benchFailures(file)) show(`FAILED ${f}`, true);
    if (data.get('download')) download(file);
  } catch (e) {
    state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    show(`error: ${state.error}`, true);
  } finally {
    backend?.destroy();
    button.disabled = false;
    state.running = false;
    state.done = true;
  }
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  void run();
});

// Preset the form from the URL (?suite=kernels&quick=1&backend=webgpu&download=0&run=1).
const params = new URLSearchParams(location.search);
for (const k of ['suite', 'backend'] as const) {
  const v = params.get(k);
  if (v) (form.elements.namedItem(k) as HTMLSelectElement).value = v;
}
for (const k of ['quick', 'download'] as const) {
  const v = params.get(k);
  if (v !== null) (form.elements.namedItem(k) as HTMLInputElement).checked = v !== '0';
}
if (params.get('run') === '1') void run();
