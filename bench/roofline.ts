// The roofline of each result file, measured from its own rows: the compute ceiling is the best
// matmul TFLOP/s of each dtype, the memory ceiling the best GB/s of the copy and add rows. A
// workload of arithmetic intensity I (flops / bytes) can reach at most min(peak, bandwidth · I).
import type { BenchFile } from './schema.ts';

export interface Roofline {
  file: number;
  label: string;
  dtype: string;
  /** 0 where the file has no matmul row of this dtype. */
  peakTflops: number;
  peakFrom?: string;
  /** 0 where the file has no copy/add row. */
  bandwidthGbps: number;
  bandwidthFrom?: string;
  /** FLOP per byte where the two ceilings meet. */
  ridge: number;
}

const BANDWIDTH_OPS = new Set(['copy', 'add']);

export function rooflines(files: BenchFile[], labels = files.map((f) => f.label)): Roofline[] {
  const out: Roofline[] = [];
  files.forEach((f, i) => {
    let bw = 0, bwFrom: string | undefined;
    for (const r of f.rows) if (BANDWIDTH_OPS.has(r.op) && r.gbps > bw) { bw = r.gbps; bwFrom = `${r.id} [${r.dtype}]`; }
    const dtypes = [...new Set(f.rows.filter((r) => r.op === 'matmul').map((r) => r.dtype))];
    if (dtypes.length === 0 && bw > 0) dtypes.push('f32');
    for (const dtype of dtypes) {
      let peak = 0, from: string | undefined;
      for (const r of f.rows) if (r.op === 'matmul' && r.dtype === dtype && r.tflops > peak) { peak = r.tflops; from = r.id; }
      out.push({
        file: i, label: labels[i], dtype, peakTflops: peak, ...(from ? { peakFrom: from } : {}),
        bandwidthGbps: bw, ...(bwFrom ? { bandwidthFrom: bwFrom } : {}),
        ridge: bw > 0 ? (peak * 1e12) / (bw * 1e9) : NaN,
      });
    }
  });
  return out;
}

/** Attainable TFLOP/s at intensity I under a roofline. */
export function attainable(r: Roofline, intensity: number): number {
  return Math.min(r.peakTflops, (r.bandwidthGbps * 1e9 * intensity) / 1e12);
}
