// The Chromium test page: WebGPU smoke check, then every core case on cpu and webgpu.
// Results go to window.__wgrad (read by tests/browser/run.ts) and to the page for humans.
import { createBackend } from '../../backends/select.ts';
import { coreCases } from '../core/cases.ts';
import { runCases, type CaseResult } from '../core/harness.ts';
import { webgpuSmoke } from '../core/smoke.ts';
import type { PageReport } from './report.ts';

const report: PageReport = { done: false, results: [] };
(globalThis as unknown as { __wgrad: PageReport }).__wgrad = report;

const logEl = document.getElementById('log');

function show(text: string, ok: boolean): void {
  const div = document.createElement('div');
  div.className = ok ? 'ok' : 'fail';
  div.textContent = text;
  logEl?.appendChild(div);
}

function message(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function showResult(r: CaseResult): void {
  show(`${r.ok ? 'ok  ' : 'FAIL'} [${r.backend}] ${r.name} (${r.ms.toFixed(1)} ms)${r.error ? `\n${r.error}` : ''}`, r.ok);
}

async function main(): Promise<void> {
  try {
    if (!navigator.gpu) throw new Error('navigator.gpu is undefined (not a secure context, or WebGPU disabled)');
    report.smoke = await webgpuSmoke(navigator.gpu);
    show(`ok   webgpu smoke: ${report.smoke.adapter}`, true);
  } catch (e) {
    report.smokeError = message(e);
    show(`FAIL webgpu smoke: ${report.smokeError}`, false);
  }
  for (const name of ['cpu', 'webgpu'] as const) {
    let backend;
    try {
      backend = await createBackend({ backend: name });
    } catch (e) {
      // Recorded as a failed case so the runner names the backend that did not start.
      const r: CaseResult = { name: 'create backend', backend: name, ok: false, ms: 0, error: message(e) };
      report.results.push(r);
      showResult(r);
      continue;
    }
    try {
      await runCases(coreCases, backend, (r) => {
        report.results.push(r);
        showResult(r);
      });
    } finally {
      backend.destroy();
    }
  }
}

main()
  .catch((e) => {
    report.fatal = message(e);
    show(`FATAL ${report.fatal}`, false);
  })
  .finally(() => {
    report.done = true;
  });
