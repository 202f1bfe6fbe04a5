// The HTML report of a comparison: one self-contained page holding the data, the tables and the
// Vega-Lite chart specs (ratios to the baseline, and each file's measured roofline with every
// workload's arithmetic intensity against its achieved TFLOP/s). The charts are drawn by Vega-Embed,
// loaded from jsDelivr at pinned versions with subresource-integrity hashes (no third-party code is
// copied into the repository or the page); the tables need nothing and read offline.
import { attainable } from './roofline.ts';
import { rateOf, type Comparison } from './compare.ts';

// `npm view vega version` etc.; hashes: sha384 of the files in the npm tarballs (jsDelivr serves them as is).
export const CHART_SCRIPTS = [
  { src: 'https://cdn.jsdelivr.net/npm/vega@6.4.0/build/vega.min.js', integrity: 'sha384-VKdcJr3ZaBIJMbVcopTAI/JEuUkSY6qnwVu9iLuw0DnQ9gQ1JjsfZJhXFQAgNi43' },
  { src: 'https://cdn.jsdelivr.net/npm/vega-lite@6.5.0/build/vega-lite.min.js', integrity: 'sha384-pV2l7nzmyxZh02knvUH7N8zvtyCYsYiGt+SsE/emG/dFiBI6G0YJZFZ2FzEX72P3' },
  { src: 'https://cdn.jsdelivr.net/npm/vega-embed@7.3.0/build/vega-embed.min.js', integrity: 'sha384-Muy1QRxYFeNrA1zShc1KtN4OfipkR/61gt+HWqN57c1Zxu3Oe16TsilsruVVjfKL' },
];

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (x: number, d = 3) => (!Number.isFinite(x) ? '-' : x === 0 ? '0' : Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(d));
/** JSON safe inside <script>: no "</script>" or "<!--" can end or open anything. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export interface ChartSpecs {
  ratio: object | null;
  rooflines: { label: string; spec: object }[];
}

/** Vega-Lite specs of the report's charts (exported for tests and for other renderers). */
export function chartSpecs(c: Comparison): ChartSpecs {
  const ratioData = c.lines.flatMap((l) => l.cells.flatMap((cell, i) => (cell?.ratio !== undefined && i !== c.baseline
    ? [{ workload: `${l.id} [${l.dtype}]`, file: c.labels[i], ratio: cell.ratio }] : [])));
  const ratio = ratioData.length === 0 ? null : {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Speed relative to ${c.labels[c.baseline]} (baseline time / time; > 1 is faster)`,
    data: { values: ratioData },
    width: 560,
    layer: [
      {
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'workload', type: 'nominal', sort: null, title: null },
          yOffset: { field: 'file' },
          x: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, title: 'ratio to baseline (log)' },
          // Bars grow from 1 (a log axis has no 0): left of the rule is slower than the baseline.
          x2: { datum: 1 },
          color: { field: 'file', type: 'nominal', title: 'file' },
        },
      },
      { mark: { type: 'rule', color: 'black' }, encoding: { x: { datum: 1 } } },
    ],
  };
  const rooflines = c.files.map((f, i): { label: string; spec: object } | null => {
    const roofs = c.rooflines.filter((r) => r.file === i && r.peakTflops > 0 && r.bandwidthGbps > 0);
    const points = f.rows.filter((r) => r.flops > 0 && r.bytes > 0).map((r) => ({
      workload: r.id, dtype: r.dtype, intensity: r.flops / r.bytes, tflops: r.tflops, op: r.op,
    }));
    if (points.length === 0 || roofs.length === 0) return null;
    const lo = Math.min(...points.map((p) => p.intensity), ...roofs.map((r) => r.ridge)) / 2;
    const hi = Math.max(...points.map((p) => p.intensity), ...roofs.map((r) => r.ridge)) * 2;
    const ceiling = roofs.flatMap((r) => {
      const xs = [lo, r.ridge, hi];
      return xs.map((x) => ({ dtype: r.dtype, intensity: x, tflops: attainable(r, x) }));
    });
    return {
      label: c.labels[i],
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: `Roofline: ${c.labels[i]} (${f.device.name})`,
        width: 560, height: 340,
        layer: [
          {
            data: { values: ceiling },
            mark: { type: 'line', strokeDash: [4, 3] },
            encoding: {
              x: { field: 'intensity', type: 'quantitative', scale: { type: 'log' }, title: 'arithmetic intensity (FLOP/byte)' },
              y: { field: 'tflops', type: 'quantitative', scale: { type: 'log' }, title: 'TFLOP/s' },
              color: { field: 'dtype', type: 'nominal' },
            },
          },
          {
            data: { values: points },
            mark: { type: 'point', filled: true, size: 60, tooltip: true },
            encoding: {
              x: { field: 'intensity', type: 'quantitative', scale: { type: 'log' } },
              y: { field: 'tflops', type: 'quantitative', scale: { type: 'log' } },
              color: { field: 'dtype', type: 'nominal', title: 'dtype' },
              shape: { field: 'op', type: 'nominal', title: 'workload' },
            },
          },
        ],
      },
    };
  }).filter((x): x is { label: string; spec: object } => x !== null);
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
  const specs = chartSpecs(c);
  const data = {
    labels: c.labels, baseline: c.baseline, rooflines: c.rooflines,
    lines: c.lines.map((l) => ({ id: l.id, dtype: l.dtype, op: l.op, suite: l.suite,
      cells: l.cells.map((x) => (x ? { medianMs: x.row.stats.medianMs, tflops: x.row.tflops, gbps: x.row.gbps, ratio: x.ratio ?? null } : null)) })),
  };
  const skipped = c.files.flatMap((f, i) => f.skipped.map((s) => `<li>[${i + 1}] ${esc(s.id)} [${s.dtype}]: ${esc(s.reason)}</li>`));
  const charts = [
    ...(specs.ratio ? [{ id: 'chart-ratio', spec: specs.ratio }] : []),
    ...specs.rooflines.map((r, i) => ({ id: `chart-roofline-${i}`, spec: r.spec })),
  ];
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
  #chart-status { color: #a60; }
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
<p id="chart-status">Charts load Vega-Embed from cdn.jsdelivr.net; offline, the tables above hold every number.</p>
${charts.map((ch) => `<div class="chart" id="${ch.id}"></div>`).join('\n')}
${skipped.length ? `<h2>Skipped</h2><ul>${skipped.join('')}</ul>` : ''}
<script type="application/json" id="wgrad-bench-data">${scriptJson(data)}</script>
<script type="application/json" id="wgrad-bench-charts">${scriptJson(charts)}</script>
${CHART_SCRIPTS.map((s) => `<script src="${s.src}" integrity="${s.integrity}" crossorigin="anonymous"></script>`).join('\n')}
<script>
  (function () {
    var status = document.getElementById('chart-status');
    if (typeof vegaEmbed !== 'function') return;
    var charts = JSON.parse(document.getElementById('wgrad-bench-charts').textContent);
    Promise.all(charts.map(function (c) { return vegaEmbed('#' + c.id, c.spec, { actions: false }); }))
      .then(function () { status.remove(); })
      .catch(function (e) { status.textContent = 'Chart rendering failed: ' + e; });
  })();
</script>
</body>
</html>
`;
}
