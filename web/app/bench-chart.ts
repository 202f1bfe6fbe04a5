// The benchmark tab's chart: once the embedded bench page (bench.html, same origin) has a result
// file, one bar per row: its median time in ms (log scale), labelled by row id in a table below.
import uPlot from 'uplot';
import type { BenchFile } from '../../bench/schema.ts';

type BenchWindow = Window & { __wgradBench?: { done: boolean; file?: BenchFile } };

export function watchBench(frame: HTMLIFrameElement, host: HTMLElement, onChart: (rows: number) => void): void {
  let shown: BenchFile | undefined;
  setInterval(() => {
    const file = (frame.contentWindow as BenchWindow | null)?.__wgradBench?.file;
    if (!file || file === shown) return;
    shown = file;
    host.textContent = '';
    const rows = file.rows;
    const x = rows.map((_, i) => i + 1);
    const y = rows.map((r) => r.stats.medianMs);
    const bars = uPlot.paths.bars!({ size: [0.6, 40] });
    new uPlot({
      width: 700, height: 240, legend: { show: false },
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: 'row' }, { label: 'median ms', size: 70 }],
      series: [{}, { label: 'median ms', fill: '#2f6fde88', stroke: '#2f6fde', paths: bars, points: { show: false } }],
    }, [x, y], host);
    const t = document.createElement('table');
    rows.forEach((r, i) => {
      const tr = t.insertRow();
      for (const v of [String(i + 1), r.id, r.dtype, `${r.stats.medianMs.toPrecision(3)} ms`, `${r.tflops.toPrecision(3)} TFLOP/s`, `${r.gbps.toPrecision(3)} GB/s`]) tr.insertCell().textContent = v;
    });
    host.append(t);
    onChart(rows.length);
  }, 500);
}
