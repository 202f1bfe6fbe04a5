// wgrad plot RUN_DIR: the run's metrics.jsonl as a self-contained HTML page (cli/plot-html.ts).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { log, UsageError, type CommandSpec } from '../args.ts';
import { fsReason } from '../output-dir.ts';
import { renderTrainingReport, type MetricRecord } from '../plot-html.ts';

/** uPlot's browser build, read from the installed package (a dependency, so present wherever wgrad is). */
function uplotAssets(): { js: string; css: string } {
  const require = createRequire(import.meta.url);
  const dir = join(require.resolve('uplot/package.json'), '..', 'dist');
  return { js: readFileSync(join(dir, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dir, 'uPlot.min.css'), 'utf8') };
}

/** metrics.jsonl rows; a line cut short by a kill is skipped, anything else malformed is named. */
export function readMetrics(path: string): MetricRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MetricRecord[] = [];
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    let r: unknown;
    try { r = JSON.parse(l); } catch (e) {
      if (i >= lines.length - 2) return; // the last line of a killed run
      throw new Error(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (!r || typeof r !== 'object' || typeof (r as MetricRecord).step !== 'number') throw new Error(`${path}:${i + 1}: expected an object with a numeric "step"`);
    out.push(r as MetricRecord);
  });
  return out;
}

export const plotSpec: CommandSpec = {
  name: 'plot',
  summary: 'draw a run\'s metrics (loss, eval loss, lr, grad norm, tokens/s, method metrics) as a self-contained HTML page',
  args: ['<run-dir>'],
  flags: [{ flags: '--out <file>', help: 'where to write the page (default RUN_DIR/report.html)' }],
  run: (o, [dir]) => {
    const runDir = dir as string;
    const metrics = existsSync(runDir) && statSync(runDir).isFile() ? runDir : join(runDir, 'metrics.jsonl');
    if (!existsSync(metrics)) throw new UsageError(`${runDir} has no metrics.jsonl (expected a folder written by wgrad train --output-dir, or a metrics.jsonl)`);
    const folder = metrics === runDir ? join(runDir, '..') : runDir;
    const runFile = join(folder, 'run.json');
    const run = existsSync(runFile) ? JSON.parse(readFileSync(runFile, 'utf8')) as Record<string, unknown> : null;
    const out = (o.out as string | undefined) ?? join(folder, 'report.html');
    const html = renderTrainingReport({ title: `wgrad run ${basename(resolve(folder))}`, records: readMetrics(metrics), run, uplot: uplotAssets() });
    try { writeFileSync(out, html); } catch (e) { throw new UsageError(`--out ${out} cannot be written: ${fsReason(e)}`); }
    log(`wrote ${out}`);
  },
};
