// The training report page of `wgrad plot`: one self-contained HTML file (uPlot's JS and CSS inlined,
// the metrics embedded as JSON; nothing is fetched) with a chart per quantity: loss with eval loss,
// learning rate, grad norm, tokens/s, and each metric the method logs (rewards/margins, ...) with
// its eval_ counterpart on the same axes.

export interface MetricRecord { step: number; [k: string]: number | null }

export interface ChartGroup {
  title: string;
  /** Series: metric key → its label. */
  series: [key: string, label: string][];
}

/** Keys never charted: the x axis and bookkeeping. */
const SKIP = new Set(['step', 'epoch', 'tokens']);

/** Which charts the records call for, in a fixed order, then the method's metrics alphabetically. */
export function chartGroups(records: MetricRecord[]): ChartGroup[] {
  const keys = new Set<string>();
  for (const r of records) for (const [k, v] of Object.entries(r)) if (!SKIP.has(k) && typeof v === 'number') keys.add(k);
  const groups: ChartGroup[] = [];
  const take = (title: string, ...pairs: [string, string][]) => {
    const present = pairs.filter(([k]) => keys.has(k));
    if (present.length) groups.push({ title, series: present });
    for (const [k] of pairs) keys.delete(k);
  };
  take('loss', ['loss', 'train loss'], ['eval_loss', 'eval loss']);
  take('learning rate', ['lr', 'learning rate']);
  take('grad norm', ['grad_norm', 'grad norm (before clipping)']);
  take('tokens/s', ['tokens_per_second', 'tokens/s']);
  const rest = [...keys].filter((k) => !k.startsWith('eval_')).sort();
  for (const k of rest) take(k, [k, `train ${k}`], [`eval_${k}`, `eval ${k}`]);
  for (const k of [...keys].sort()) take(k, [k, k]); // eval-only metrics
  return groups;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** Text safe inside <script>: nothing in it can close the element or open a comment. */
const inScript = (s: string) => s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');

export function renderTrainingReport(o: {
  title: string; records: MetricRecord[]; run?: Record<string, unknown> | null; uplot: { js: string; css: string };
}): string {
  const groups = chartGroups(o.records);
  const steps = [...new Set(o.records.map((r) => r.step))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  // uPlot's aligned data: x = steps, one column per series, null where a step has no value.
  const columns: Record<string, (number | null)[]> = {};
  for (const g of groups) for (const [k] of g.series) columns[k] = steps.map(() => null);
  for (const r of o.records) for (const [k, v] of Object.entries(r)) if (columns[k] && typeof v === 'number') columns[k][index.get(r.step)!] = v;
  const settings = (o.run?.settings ?? {}) as Record<string, unknown>;
  const summary = Object.entries(settings).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(v))}</td></tr>`).join('');
  const data = { steps, columns, groups };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(o.title)}</title>
<style>${o.uplot.css}</style>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  .chart { display: inline-block; margin: 0 1rem 1.5rem 0; vertical-align: top; }
  table { border-collapse: collapse; } td { border: 1px solid #ccc; padding: 1px 8px; }
</style>
</head>
<body>
<h1>${esc(o.title)}</h1>
<p>${steps.length ? `${o.records.filter((r) => 'loss' in r).length} training steps (to step ${steps[steps.length - 1]})` : 'no metrics yet'}; drag to zoom, double-click to reset.</p>
<div id="charts"></div>
${summary ? `<h2>Settings</h2><table>${summary}</table>` : ''}
<script>${inScript(o.uplot.js)}</script>
<script type="application/json" id="wgrad-metrics">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById('wgrad-metrics').textContent);
  var colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
  d.groups.forEach(function (g) {
    var el = document.createElement('div');
    el.className = 'chart';
    document.getElementById('charts').appendChild(el);
    var series = [{ label: 'step' }].concat(g.series.map(function (s, i) {
      return { label: s[1], stroke: colors[i % colors.length], width: 1.5, spanGaps: true, points: { show: s[0].indexOf('eval') === 0 } };
    }));
    var data = [d.steps].concat(g.series.map(function (s) { return d.columns[s[0]]; }));
    // Learning rates are ~1e-4: uPlot's default labels would round them to 0. Steps are integers.
    var fmt = function (u, vals) { return vals.map(function (v) { return v == null ? '' : v !== 0 && Math.abs(v) < 0.01 ? v.toExponential(1) : String(+v.toPrecision(4)); }); };
    var steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
    new uPlot({ title: g.title, width: 560, height: 300, series: series, scales: { x: { time: false } },
      axes: [{ incrs: steps }, { values: fmt, size: 60 }] }, data, el);
  });
})();
</script>
</body>
</html>
`;
}
