// Side-by-side comparison of result files: rows matched by workload id and dtype, each file's median
// time and achieved rate, and its speed relative to a chosen baseline file (baseline time / time,
// so > 1 means faster than the baseline). A tf32 or bf16 row that the baseline lacks is compared
// with the baseline's f32 row of the same workload, and the table says so.
import { rooflines, type Roofline } from './roofline.ts';
import { peakMemoryBytes, rowKey, type BenchFile, type BenchRow } from './schema.ts';

export interface CompareCell {
  row: BenchRow;
  /** baseline median / this median; undefined where the baseline has no such workload. */
  ratio?: number;
  /** The baseline row's dtype when it differs from this row's (tf32 against f32). */
  ratioAgainst?: string;
  /** This row's peak device memory / the baseline row's (training rows that record both; < 1 uses less). */
  memoryRatio?: number;
}

export interface CompareLine {
  id: string;
  dtype: string;
  op: string;
  suite: string;
  /** One cell per file, in file order; undefined where that file lacks the row. */
  cells: (CompareCell | undefined)[];
}

export interface Comparison {
  files: BenchFile[];
  labels: string[];
  baseline: number;
  lines: CompareLine[];
  rooflines: Roofline[];
}

/** Unique labels: the files' own, with " (2)" etc. where two files share one. */
function uniqueLabels(files: BenchFile[]): string[] {
  const seen = new Map<string, number>();
  return files.map((f) => {
    const n = (seen.get(f.label) ?? 0) + 1;
    seen.set(f.label, n);
    return n === 1 ? f.label : `${f.label} (${n})`;
  });
}

/** `baseline`: a file index, or a label (or a unique part of one); default the first file. */
export function compareFiles(files: BenchFile[], baseline: number | string = 0): Comparison {
  if (files.length === 0) throw new Error('compare: no result files');
  const labels = uniqueLabels(files);
  let b: number;
  if (typeof baseline === 'number') {
    if (!Number.isInteger(baseline) || baseline < 0 || baseline >= files.length) {
      throw new Error(`compare: baseline index ${baseline} is out of range (0..${files.length - 1})`);
    }
    b = baseline;
  } else {
    const hits = labels.map((l, i) => [l, i] as const).filter(([l]) => l === baseline || l.includes(baseline));
    const exact = hits.find(([l]) => l === baseline);
    if (!exact && hits.length !== 1) {
      throw new Error(`compare: baseline "${baseline}" matches ${hits.length} files (labels: ${labels.map((l) => `"${l}"`).join(', ')})`);
    }
    b = (exact ?? hits[0])[1];
  }
  const index = files.map((f) => new Map(f.rows.map((r) => [rowKey(r), r])));
  const order: CompareLine[] = [];
  const byKey = new Map<string, CompareLine>();
  files.forEach((f) => {
    for (const r of f.rows) {
      const k = rowKey(r);
      if (byKey.has(k)) continue;
      const line: CompareLine = { id: r.id, dtype: r.dtype, op: r.op, suite: r.suite, cells: [] };
      byKey.set(k, line);
      order.push(line);
    }
  });
  // Workloads in first-seen order, and within one workload f32 first, then the other dtypes.
  const dtypeRank = (d: string) => ['f32', 'tf32', 'bf16', 'f16'].indexOf(d);
  const firstSeen = new Map<string, number>();
  order.forEach((l, i) => { if (!firstSeen.has(l.id)) firstSeen.set(l.id, i); });
  order.sort((x, y) => firstSeen.get(x.id)! - firstSeen.get(y.id)! || dtypeRank(x.dtype) - dtypeRank(y.dtype));
  for (const line of order) {
    const k = rowKey(line);
    const base = index[b].get(k) ?? index[b].get(rowKey({ id: line.id, dtype: 'f32' }));
    line.cells = index.map((ix) => {
      const row = ix.get(k);
      if (!row) return undefined;
      if (!base) return { row };
      const mem = peakMemoryBytes(row), baseMem = peakMemoryBytes(base);
      return {
        row, ratio: base.stats.medianMs / row.stats.medianMs, ...(base.dtype !== row.dtype ? { ratioAgainst: base.dtype } : {}),
        ...(mem !== undefined && baseMem ? { memoryRatio: mem / baseMem } : {}),
      };
    });
  }
  return { files, labels, baseline: b, lines: order, rooflines: rooflines(files, labels) };
}

const num = (x: number, d = 3) => (!Number.isFinite(x) ? '-' : x === 0 ? '0' : Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(d));

/** The rate a reader cares about for a row: tokens/s for model workloads, else TFLOP/s or GB/s. */
export function rateOf(r: BenchRow): { value: number; unit: string } {
  if (r.metrics?.tokensPerSecond !== undefined) return { value: r.metrics.tokensPerSecond, unit: 'tok/s' };
  const intensity = r.bytes > 0 ? r.flops / r.bytes : Infinity;
  // Below ~4 FLOP/byte every device is bandwidth-bound: GB/s says more than TFLOP/s.
  if (intensity < 4) return { value: r.gbps, unit: 'GB/s' };
  // CPUs and software GPUs run far below a TFLOP/s.
  return r.tflops >= 1 ? { value: r.tflops, unit: 'TFLOP/s' } : { value: r.tflops * 1000, unit: 'GFLOP/s' };
}

function pad(cells: string[][]): string {
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  return cells.map((r) => r.map((s, c) => (c === 0 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
}

/** The terminal report: devices, then one line per workload with ms, rate and ratio per file. */
export function renderCompareTable(c: Comparison): string {
  const out: string[] = [];
  c.files.forEach((f, i) => {
    const mark = i === c.baseline ? ' (baseline)' : '';
    out.push(`[${i + 1}] ${c.labels[i]}${mark}: ${f.engine.name} ${f.engine.version}${f.engine.commit ? ` @${f.engine.commit.slice(0, 12)}` : ''}, ` +
      `${f.device.name}, ${f.runtime.name} ${f.runtime.version}, ${f.mode}, ${f.date.slice(0, 10)}`);
  });
  const head = ['workload', ...c.files.flatMap((_, i) => [`[${i + 1}] ms`, `[${i + 1}] rate`, `[${i + 1}] ×base`])];
  const rows = [head];
  for (const l of c.lines) {
    const cells = [`${l.id} [${l.dtype}]`];
    for (const cell of l.cells) {
      if (!cell) { cells.push('-', '-', '-'); continue; }
      const rate = rateOf(cell.row);
      const check = cell.row.check && !cell.row.check.passed ? ' !check' : '';
      cells.push(num(cell.row.stats.medianMs), `${num(rate.value)} ${rate.unit}${check}`,
        cell.ratio === undefined ? '-' : `${cell.ratio.toFixed(2)}×${cell.ratioAgainst ? ` vs ${cell.ratioAgainst}` : ''}`);
    }
    rows.push(cells);
  }
  out.push('', pad(rows));
  const memLines = c.lines.filter((l) => l.cells.some((cell) => cell && peakMemoryBytes(cell.row) !== undefined));
  if (memLines.length) {
    out.push('', 'peak device memory (wgrad peakLiveBytes, PyTorch max_memory_allocated; ×base: this / baseline, < 1 uses less)');
    const mrows = [['workload', ...c.files.flatMap((_, i) => [`[${i + 1}] GB`, `[${i + 1}] ×base`])]];
    for (const l of memLines) {
      mrows.push([`${l.id} [${l.dtype}]`, ...l.cells.flatMap((cell) => {
        const bytes = cell ? peakMemoryBytes(cell.row) : undefined;
        return [bytes === undefined ? '-' : (bytes / 1e9).toFixed(2), cell?.memoryRatio === undefined ? '-' : `${cell.memoryRatio.toFixed(2)}×`];
      })]);
    }
    out.push(pad(mrows));
  }
  out.push('', 'roofline (measured: best matmul TFLOP/s and best copy/add GB/s per file and dtype)');
  const rrows = [['file', 'dtype', 'peak TFLOP/s', 'from', 'bandwidth GB/s', 'from', 'ridge FLOP/B']];
  for (const r of c.rooflines) {
    rrows.push([r.label, r.dtype, num(r.peakTflops), r.peakFrom ?? '-', num(r.bandwidthGbps), r.bandwidthFrom ?? '-', num(r.ridge)]);
  }
  out.push(pad(rrows));
  const skipped = c.files.flatMap((f, i) => f.skipped.map((s) => `[${i + 1}] ${s.id} [${s.dtype}]: ${s.reason}`));
  if (skipped.length) out.push('', 'skipped:', ...skipped.map((s) => `  ${s}`));
  out.push('', `×base: baseline median / this median (> 1 is faster than [${c.baseline + 1}]).`);
  return out.join('\n');
}
