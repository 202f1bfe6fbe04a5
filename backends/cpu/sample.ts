// kernels/sample.ts on the cpu: one token per row of logits from a given uniform, in float64.
// Same definition (index-order inverse CDF over the kept set, ties at a threshold kept); the
// thresholds come from a sort here instead of the kernel's bit-pattern binary search.
import type { SampleParams } from '../backend.ts';

type Data = Float32Array | Float64Array | Int32Array;

export function sampleRowsCpu(x: Data, u: Data, rows: number, V: number, p: SampleParams, out: Int32Array): void {
  const q = new Float64Array(V);
  for (let r = 0; r < rows; r++) {
    const base = r * V;
    let m = -Infinity, mi = 0;
    for (let c = 0; c < V; c++) if (x[base + c] > m) { m = x[base + c]; mi = c; }
    if (p.temperature <= 0) { out[r] = mi; continue; }
    for (let c = 0; c < V; c++) q[c] = Math.exp((x[base + c] - m) / p.temperature);
    let thr = 0;
    if ((p.topK > 0 && p.topK < V) || p.topP < 1) {
      const sorted = Float64Array.from(q).sort().reverse();
      if (p.topK > 0 && p.topK < V) thr = sorted[p.topK - 1];
      if (p.topP < 1) {
        let z = 0;
        for (const v of sorted) if (v >= thr) z += v;
        const target = p.topP * z;
        let acc = 0;
        for (const v of sorted) {
          if (v < thr) break;
          acc += v;
          // Every q equal to v counts once mass(q ≥ v) is reached: finish the run of ties first.
          if (acc >= target) { thr = Math.max(thr, v); break; }
        }
      }
    }
    let total = 0, last = 0;
    for (let c = 0; c < V; c++) if (q[c] >= thr) { total += q[c]; last = c; }
    const target = u[r] * total;
    let acc = 0, pick = -1;
    for (let c = 0; c < V; c++) {
      if (q[c] < thr) continue;
      acc += q[c];
      if (acc > target) { pick = c; break; }
    }
    out[r] = pick < 0 ? last : pick;
  }
}
