// Inline SVG charts for the benchmark report (bench/html.ts): static markup, no script, nothing
// fetched, so the page reads the same offline. Two kinds: horizontal bars on a log axis that grow
// from 1 (ratios to a baseline) and a log-log roofline (ceiling lines and workload points).

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d'];
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const f = (x: number) => (Math.round(x * 10) / 10).toString();

/** A log10 axis over [lo, hi] mapped to pixels [p0, p1], with decade ticks (and 2, 5 when few). */
function logAxis(lo: number, hi: number, p0: number, p1: number) {
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const l0 = a, l1 = b === a ? a + 1 : b;
  const at = (x: number) => p0 + ((Math.log10(x) - l0) / (l1 - l0)) * (p1 - p0);
  const ticks: number[] = [];
  for (let e = l0; e <= l1; e++) for (const m of l1 - l0 <= 2 ? [1, 2, 5] : [1]) if (m * 10 ** e <= 10 ** l1) ticks.push(m * 10 ** e);
  return { at, ticks, lo: 10 ** l0, hi: 10 ** l1 };
}

const tickLabel = (x: number) => (x >= 1e4 || x < 1e-2 ? x.toExponential(0) : String(+x.toPrecision(3)));

function colorOf(keys: string[]): (k: string) => string {
  const uniq = [...new Set(keys)];
  return (k) => PALETTE[uniq.indexOf(k) % PALETTE.length];
}

function legend(keys: string[], color: (k: string) => string, x: number, y: number): string {
  return [...new Set(keys)].map((k, i) =>
    `<rect x="${x}" y="${y + i * 16}" width="10" height="10" fill="${color(k)}"/><text x="${x + 14}" y="${y + i * 16 + 9}">${esc(k)}</text>`).join('');
}

export interface RatioBar { workload: string; file: string; ratio: number }

/** Bars per workload (one per file), log x axis, growing from 1: left of the rule is slower. */
export function ratioBarsSvg(bars: RatioBar[], title: string): string {
  const workloads = [...new Set(bars.map((b) => b.workload))], files = [...new Set(bars.map((b) => b.file))];
  const left = 250, width = 420, barH = 10, rowH = barH * files.length + 6, top = 34;
  const height = top + workloads.length * rowH + 40;
  const ratios = bars.map((b) => b.ratio).filter((r) => r > 0 && Number.isFinite(r));
  const x = logAxis(Math.min(1, ...ratios), Math.max(1, ...ratios), left, left + width);
  const color = colorOf(files);
  const parts: string[] = [`<text x="4" y="16" font-weight="bold">${esc(title)}</text>`];
  for (const t of x.ticks) parts.push(`<line x1="${f(x.at(t))}" x2="${f(x.at(t))}" y1="${top}" y2="${height - 34}" stroke="#ddd"/><text x="${f(x.at(t))}" y="${height - 20}" text-anchor="middle">${tickLabel(t)}</text>`);
  workloads.forEach((w, i) => {
    const y0 = top + i * rowH;
    parts.push(`<text x="${left - 6}" y="${y0 + rowH / 2 + 3}" text-anchor="end">${esc(w)}</text>`);
    files.forEach((file, j) => {
      const b = bars.find((r) => r.workload === w && r.file === file);
      if (!b || !(b.ratio > 0)) return;
      const x1 = x.at(1), x2 = x.at(b.ratio);
      parts.push(`<rect x="${f(Math.min(x1, x2))}" y="${y0 + j * barH + 3}" width="${f(Math.max(Math.abs(x2 - x1), 1))}" height="${barH - 1}" fill="${color(file)}"><title>${esc(`${w}, ${file}: ${b.ratio.toFixed(3)}×`)}</title></rect>`);
    });
  });
  parts.push(`<line x1="${f(x.at(1))}" x2="${f(x.at(1))}" y1="${top - 4}" y2="${height - 34}" stroke="#000"/>`);
  parts.push(`<text x="${left + width / 2}" y="${height - 4}" text-anchor="middle">ratio to baseline (log)</text>`);
  parts.push(legend(files, color, left + width + 12, top));
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${left + width + 220}" height="${height}" font-family="system-ui, sans-serif" font-size="11">${parts.join('')}</svg>`;
}

export interface RooflineCeiling { dtype: string; intensity: number; tflops: number }
export interface RooflinePoint { workload: string; dtype: string; op: string; intensity: number; tflops: number }

/** Ceiling lines (per dtype) and workload points on log-log axes: FLOP/byte against TFLOP/s. */
export function rooflineSvg(ceiling: RooflineCeiling[], points: RooflinePoint[], title: string): string {
  const left = 60, top = 30, w = 520, h = 320;
  const all = [...ceiling, ...points].filter((p) => p.intensity > 0 && p.tflops > 0);
  const x = logAxis(Math.min(...all.map((p) => p.intensity)), Math.max(...all.map((p) => p.intensity)), left, left + w);
  const y = logAxis(Math.min(...all.map((p) => p.tflops)), Math.max(...all.map((p) => p.tflops)), top + h, top);
  const color = colorOf([...ceiling.map((c) => c.dtype), ...points.map((p) => p.dtype)]);
  const parts: string[] = [`<text x="4" y="16" font-weight="bold">${esc(title)}</text>`];
  for (const t of x.ticks) parts.push(`<line x1="${f(x.at(t))}" x2="${f(x.at(t))}" y1="${top}" y2="${top + h}" stroke="#eee"/><text x="${f(x.at(t))}" y="${top + h + 14}" text-anchor="middle">${tickLabel(t)}</text>`);
  for (const t of y.ticks) parts.push(`<line x1="${left}" x2="${left + w}" y1="${f(y.at(t))}" y2="${f(y.at(t))}" stroke="#eee"/><text x="${left - 4}" y="${f(y.at(t) + 3)}" text-anchor="end">${tickLabel(t)}</text>`);
  for (const dtype of new Set(ceiling.map((c) => c.dtype))) {
    const pts = ceiling.filter((c) => c.dtype === dtype).map((c) => `${f(x.at(c.intensity))},${f(y.at(c.tflops))}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${color(dtype)}" stroke-dasharray="4 3" stroke-width="1.5"/>`);
  }
  for (const p of points) {
    parts.push(`<circle cx="${f(x.at(p.intensity))}" cy="${f(y.at(p.tflops))}" r="4" fill="${color(p.dtype)}"><title>${esc(`${p.workload} [${p.dtype}]: ${p.intensity.toPrecision(3)} FLOP/byte, ${p.tflops.toPrecision(3)} TFLOP/s`)}</title></circle>`);
  }
  parts.push(`<text x="${left + w / 2}" y="${top + h + 30}" text-anchor="middle">arithmetic intensity (FLOP/byte, log)</text>`);
  parts.push(`<text x="12" y="${top + h / 2}" text-anchor="middle" transform="rotate(-90 12 ${top + h / 2})">TFLOP/s (log)</text>`);
  parts.push(legend([...ceiling.map((c) => c.dtype), ...points.map((p) => p.dtype)], color, left + w + 12, top));
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${left + w + 120}" height="${top + h + 40}" font-family="system-ui, sans-serif" font-size="11">${parts.join('')}</svg>`;
}
