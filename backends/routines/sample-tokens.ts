// Next-token sampling on the device (kernels/sample.ts): one token id per row of logits, so
// generation reads back B ids per step instead of the [B, V] logits. The cpu implementation is the
// same definition in float64 (thresholds from a sort instead of the kernel's bit-pattern search).
import { rowWorkgroupSize } from '../../kernels/rowstats.ts';
import { sampleKernel } from '../../kernels/sample.ts';
import type { Storage } from '../backend.ts';
import { assertSizes, assertStorages, f32Bits, type CpuData, type Routine } from '../routine.ts';

/** Sampling settings (temperature 0: greedy). */
export interface SampleParams {
  temperature: number;
  /** 0: off. */
  topK: number;
  /** 1: off. */
  topP: number;
}

function sampleRows(x: CpuData, u: CpuData, rows: number, V: number, p: SampleParams, out: CpuData): void {
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

/**
 * logits [rows, cols] f32, uniforms [rows] f32 in [0, 1) → i32 [rows]: greedy at temperature 0, else
 * the inverse CDF at uniforms[r] over the tokens top-k and top-p keep, in index order.
 */
export const sampleTokens: Routine<[logits: Storage, uniforms: Storage, rows: number, cols: number, p: SampleParams], Storage> = {
  name: 'sampleTokens',
  assert(logits, uniforms, rows, cols, p) {
    assertSizes('sampleTokens', { rows, cols });
    assertStorages('sampleTokens', { logits: [logits, 'f32', [rows, cols]], uniforms: [uniforms, 'f32', [rows]] });
    if (!(p.temperature >= 0 && Number.isFinite(p.temperature)) || !Number.isInteger(p.topK) || p.topK < 0 || !(p.topP > 0 && p.topP <= 1)) {
      throw new Error(`sampleTokens: temperature ${p.temperature} (finite, ≥ 0), topK ${p.topK} (integer ≥ 0), topP ${p.topP} (in (0, 1])`);
    }
  },
  cpu(c, logits, uniforms, rows, cols, p) {
    const out = c.alloc(rows, 'i32');
    sampleRows(c.data(logits), c.data(uniforms), rows, cols, p, c.data(out));
    return out;
  },
  webgpu(g, logits, uniforms, rows, cols, p) {
    const op = 'sampleTokens';
    const out = g.alloc(rows, 'i32', op);
    if (rows === 0 || cols === 0) return out;
    g.runGrid(op, sampleKernel(rowWorkgroupSize(cols)), [g.bind(op, 'logits', logits), g.bind(op, 'uniforms', uniforms), g.bind(op, 'out', out)],
      { rows, V: cols, invTemp: f32Bits(p.temperature > 0 ? 1 / p.temperature : 0), greedy: p.temperature > 0 ? 0 : 1, topK: p.topK, topP: f32Bits(p.topP) }, rows);
    return out;
  },
};
