// The HTML report of a comparison: one self-contained page holding the data, the tables and the
// charts (ratios to the baseline, and each file's measured roofline with every workload's
// arithmetic intensity against its achieved TFLOP/s) as inline SVG: nothing is fetched, no script
// runs, and the page reads the same offline.
import { attainable } from './roofline.ts';
import { ratioBarsSvg, rooflineSvg, type RatioBar, type RooflineCeiling, type RooflinePoint } from './svg.ts';
import { rateOf, type Comparison } from './compare.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (x: number, d = 3) => (!Number.isFinite(x) ? '-' : x === 0 ? '0' : Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(d));
/** JSON safe inside <script>: no "</script>" or "<!--" can end or open anything. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export interface ChartData {
  /** Ratio to the baseline per workload and file; null with nothing to compare against. */
  ratio: { title: string; values: RatioBar[] } | null;
  rooflines: { label: string; title: string; ceiling: RooflineCeiling[]; points: RooflinePoint[] }[];
}

/** What the report's charts draw (exported for tests and for other renderers). */
export function chartData(c: Comparison): ChartData {
  const values = c.lines.flatMap((l) => l.cells.flatMap((cell, i) => (cell?.ratio !== undefined && i !== c.baseline
    ? [{ workload: `${l.id} [${l.dtype}]`, file: c.labels[i], ratio: cell.ratio }] : [])));
  const ratio = values.length === 0 ? null : { title: `Speed relative to ${c.labels[c.baseline]} (baseline time / time; > 1 is faster)`, values };
  const rooflines = c.files.flatMap((f, i) => {
    const roofs = c.rooflines.filter((r) => r.file === i && r.peakTflops > 0 && r.bandwidthGbps > 0);
    const points = f.rows.filter((r) => r.flops > 0 && r.bytes > 0).map((r) => ({
      workload: r.id, dtype: r.dtype, intensity: r.flops / r.bytes, tflops: r.tflops, op: r.op,
    }));
    if (points.length === 0 || roofs.length === 0) return [];
    const lo = Math.min(...points.map((p) => p.intensity), ...roofs.map((r) => r.ridge)) / 2;
    const hi = Math.max(...points.map((p) => p.intensity), ...roofs.map((r) => r.ridge)) * 2;
    const ceiling = roofs.flatMap((r) => [lo, r.ridge, hi].map((x) => ({ dtype: r.dtype, intensity: x, tflops: attainable(r, x) })));
    return [{ label: c.labels[i], title: `Roofline: ${c.labels[i]} (${f.device.name})`, ceiling, points }];
  });
  return { ratio, rooflines };
}

function fingerprintTable(c: Comparison): string {
  const head = '<tr><th>#</th><th>label</th><th>engine</th><th>device</th><th>adapter</th><th>runtime</th><th>mode</th><th>date</th><th>features</th></tr>';
  const rows = c.files.map((f, i) => {
    const a = f.device.adapter;
    const adapter = a ? [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') : '-';
    const engine = `${f.engine.name} ${f.engine.version}${f.engine.commit ? ` @${f.engine.commit.slice(0, 12)}` : ''}`;
    const details = f.engine.details ? Object.entries(f.engine.details).map(([k, v]) => `${k} ${v}`).join(', ') : '';
    return `<tr><td>${i + 1}${i === c.baseline ? ' (baseline)' : ''}</td><td>${esc(c.labels[i])}</td><td>${esc(engine)}${details ? `<br><small>${esc(details)}</small>` : ''}</td>` +
      `<td>${esc(f.device.name)}</td><td>${esc(adapter)}</td><td>${esc(`${f.runtime.name} ${f.runtime.version}`)}</td><td>${f.mode}</td>` +
      `<td>${esc(f.date)}</td><td><small>${esc(f.device.features.join(', ') || '-')}</small></td></tr>`;
  });
  return `<table>${head}${rows.join('')}</table>`;
}

function compareTable(c: Comparison): string {
  const head = `<tr><th>workload</th>${c.labels.map((l, i) => `<th colspan="3">[${i + 1}] ${esc(l)}</th>`).join('')}</tr>` +
    `<tr><th></th>${c.labels.map(() => '<th>median ms</th><th>rate</th><th>× base</th>').join('')}</tr>`;
  const body = c.lines.map((l) => {
    const cells = l.cells.map((cell) => {
      if (!cell) return '<td>-</td><td>-</td><td>-</td>';
      const r = cell.row, rate = rateOf(r);
      const spread = ((100 * r.stats.stdevMs) / r.stats.medianMs).toFixed(1);
      const check = r.check ? `check ${r.check.passed ? 'ok' : 'FAILED'} (${r.check.maxError.toExponential(1)})` : 'no check';
      const title = `${r.impl}; ${r.timing}, ${r.samplesMs.length} samples × ${r.inner}; ±${spread}%; ${check}`;
      const ratio = cell.ratio === undefined ? '-' : `${cell.ratio.toFixed(2)}×${cell.ratioAgainst ? ` <small>vs ${cell.ratioAgainst}</small>` : ''}`;
      const bad = r.check && !r.check.passed ? ' class="bad"' : '';
      return `<td title="${esc(title)}"${bad}>${num(r.stats.medianMs)} <small>±${spread}%</small></td><td>${num(rate.value)} ${rate.unit}</td><td>${ratio}</td>`;
    }).join('');
    return `<tr><td>${esc(l.id)} <small>[${l.dtype}]</small></td>${cells}</tr>`;
  }).join('');
  return `<table>${head}${body}</table>`;
}

function rooflineTable(c: Comparison): string {
  const head = '<tr><th>file</th><th>dtype</th><th>peak TFLOP/s</th><th>from</th><th>bandwidth GB/s</th><th>from</th><th>ridge FLOP/byte</th></tr>';
  const rows = c.rooflines.map((r) => `<tr><td>${esc(r.label)}</td><td>${r.dtype}</td><td>${num(r.peakTflops)}</td><td>${esc(r.peakFrom ?? '-')}</td>` +
    `<td>${num(r.bandwidthGbps)}</td><td>${esc(r.bandwidthFrom ?? '-')}</td><td>${num(r.ridge)}</td></tr>`).join('');
  return `<table id="roofline-table">${head}${rows}</table>`;
}

export function renderCompareHtml(c: Comparison, opts: { title?: string } = {}): string {
  const title = opts.title ?? `wgrad bench: ${c.labels.join(' vs ')}`;
  const charts = chartData(c);
  const data = {
    labels: c.labels, baseline: c.baseline, rooflines: c.rooflines,
    lines: c.lines.map((l) => ({ id: l.id, dtype: l.dtype, op: l.op, suite: l.suite,
      cells: l.cells.map((x) => (x ? { medianMs: x.row.stats.medianMs, tflops: x.row.tflops, gbps: x.row.gbps, ratio: x.ratio ?? null } : null)) })),
  };
  const skipped = c.files.flatMap((f, i) => f.skipped.map((s) => `<li>[${i + 1}] ${esc(s.id)} [${s.dtype}]: ${esc(s.reason)}</li>`));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
  th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; vertical-align: top; }
  th:first-child, td:first-child { text-align: left; }
  td.bad { background: #fdd; }
  small { color: #666; }
  .chart { margin: 1rem 0 2rem; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p>Rows are matched by workload and dtype. Times are medians per repetition (hover a cell for the implementation, timing method,
spread and correctness check). FLOPs count useful work and bytes the fewest a workload must move (bench/schema.ts), so rates
compare across engines. Ratios: baseline median / median; &gt; 1 is faster than [${c.baseline + 1}] ${esc(c.labels[c.baseline])}.</p>
<h2>Devices</h2>
${fingerprintTable(c)}
<h2>Results</h2>
${compareTable(c)}
<h2>Roofline (measured)</h2>
${rooflineTable(c)}
<h2>Charts</h2>
${charts.ratio ? `<div class="chart" id="chart-ratio">${ratioBarsSvg(charts.ratio.values, charts.ratio.title)}</div>` : ''}
${charts.rooflines.map((r, i) => `<div class="chart" id="chart-roofline-${i}">${rooflineSvg(r.ceiling, r.points, r.title)}</div>`).join('\n')}
${skipped.length ? `<h2>Skipped</h2><ul>${skipped.join('')}</ul>` : ''}
<script type="application/json" id="wgrad-bench-data">${scriptJson(data)}</script>
</body>
</html>
`;
}
