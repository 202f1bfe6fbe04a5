// Fused causal attention on the cpu: the exact reference the WGSL kernels are checked against.
// Scores are formed one query row at a time (float64 accumulation), so nothing [T, S] is stored.
// Shapes and mask: AttentionParams in ../routines/attention.ts.
import type { AttentionParams } from '../routines/attention.ts';

type F = Float32Array | Float64Array;
type I = Int32Array;

/** Keys visible to query t of sequence b, in order (causal, and the same segment when given). */
function visibleKeys(p: AttentionParams, b: number, t: number, segQ: I | null, segK: I | null, into: number[]): number[] {
  into.length = 0;
  const last = Math.min(p.S - 1, p.past + t);
  const sq = segQ ? segQ[b * p.T + t] : 0;
  for (let s = 0; s <= last; s++) if (!segK || segK[b * p.S + s] === sq) into.push(s);
  return into;
}

/** Scaled scores of query row qOff against the visible keys of kv slab kBase. */
function scores(q: F, k: F, qOff: number, kBase: number, keys: number[], D: number, scale: number, into: Float64Array): void {
  for (let n = 0; n < keys.length; n++) {
    const kOff = kBase + keys[n] * D;
    let acc = 0;
    for (let d = 0; d < D; d++) acc += q[qOff + d] * k[kOff + d];
    into[n] = acc * scale;
  }
}

export function attentionForwardCpu(q: F, k: F, v: F, segQ: I | null, segK: I | null, p: AttentionParams, out: F, lse: F): void {
  const { B, H, KV, T, S, D } = p;
  const G = KV === 0 ? 1 : H / KV;
  const s = new Float64Array(S), o = new Float64Array(D), keys: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kBase = (b * KV + Math.floor(h / G)) * S * D;
      for (let t = 0; t < T; t++) {
        const row = (b * H + h) * T + t;
        visibleKeys(p, b, t, segQ, segK, keys);
        if (keys.length === 0) {
          out.fill(0, row * D, (row + 1) * D);
          lse[row] = -Infinity;
          continue;
        }
        scores(q, k, row * D, kBase, keys, D, p.scale, s);
        let m = -Infinity;
        for (let n = 0; n < keys.length; n++) m = Math.max(m, s[n]);
        let l = 0;
        o.fill(0);
        for (let n = 0; n < keys.length; n++) {
          const e = Math.exp(s[n] - m);
          l += e;
          const vOff = kBase + keys[n] * D;
          for (let d = 0; d < D; d++) o[d] += e * v[vOff + d];
        }
        for (let d = 0; d < D; d++) out[row * D + d] = o[d] / l;
        lse[row] = m + Math.log(l);
      }
    }
  }
}

/** Writes dq, dk, dv (dk/dv add up the G query heads of each kv head), summed in float64. */
export function attentionBackwardCpu(q: F, k: F, v: F, out: F, lse: F, dOut: F, segQ: I | null, segK: I | null,
  p: AttentionParams, dqOut: F, dkOut: F, dvOut: F): void {
  const { B, H, KV, T, S, D, scale } = p;
  const dq = new Float64Array(dqOut.length), dk = new Float64Array(dkOut.length), dv = new Float64Array(dvOut.length);
  const G = KV === 0 ? 1 : H / KV;
  const s = new Float64Array(S), keys: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kBase = (b * KV + Math.floor(h / G)) * S * D;
      for (let t = 0; t < T; t++) {
        const row = (b * H + h) * T + t, qOff = row * D;
        visibleKeys(p, b, t, segQ, segK, keys);
        if (keys.length === 0) continue;
        scores(q, k, qOff, kBase, keys, D, scale, s);
        let delta = 0;
        for (let d = 0; d < D; d++) delta += dOut[qOff + d] * out[qOff + d];
        for (let n = 0; n < keys.length; n++) {
          const kOff = kBase + keys[n] * D;
          const pr = Math.exp(s[n] - lse[row]);
          let dp = 0;
          for (let d = 0; d < D; d++) dp += dOut[qOff + d] * v[kOff + d];
          const ds = pr * (dp - delta) * scale;
          for (let d = 0; d < D; d++) {
            dq[qOff + d] += ds * k[kOff + d];
            dk[kOff + d] += ds * q[qOff + d];
            dv[kOff + d] += pr * dOut[qOff + d];
          }
        }
      }
    }
  }
  dqOut.set(dq);
  dkOut.set(dk);
  dvOut.set(dv);
}
