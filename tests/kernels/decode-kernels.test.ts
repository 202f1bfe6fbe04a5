// The decoding kernels against float64 references written here: fusedProjection (few-row x · Wᵀ
// with RMSNorm folded in, residual, SwiGLU; kernels/gemv.ts), the few-row path of plain matmul
// (a Linear on [B, 1, K] is one gemv of B rows), and ropeIntoCache (rope of q, k and the in-place
// KV cache write; kernels/kv-rope.ts), on cpu and WebGPU.
import { describe, expect, it } from 'vitest';
import * as w from '../../engine/index.ts';
import { fusedProjection, ropeIntoCache } from '../../engine/ops/decode.ts';
import { RopeTables } from '../../engine/ops/nn.ts';
import { testBackends } from '../setup/backends.ts';

/** Deterministic values in about [−1, 1] (no two rows alike). */
// Rounded to f32, so the float64 references see exactly the values the backends hold.
const vals = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(0.37 * i + 1.91 * seed) * (1 + 0.1 * ((i * 7 + seed) % 5))));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
/** Largest |difference| relative to the largest |reference| value (at least 1). */
const relDiff = (a: ArrayLike<number>, b: number[]) => maxDiff(a, b) / Math.max(1, ...b.map(Math.abs));

/** Float64: rows of x (normed when g) dotted with the rows of each weight, concatenated or SwiGLU'd, plus r. */
function projectionRef(x: number[], M: number, K: number, ws: number[][], Ns: number[], o: { g?: number[]; eps?: number; r?: number[]; swiglu?: boolean }): number[] {
  const out: number[] = [];
  for (let m = 0; m < M; m++) {
    const row = x.slice(m * K, (m + 1) * K);
    const inv = o.g ? 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / K + o.eps!) : 1;
    const xh = row.map((v, k) => v * inv * (o.g ? o.g[k] : 1));
    const dot = (wi: number, n: number) => xh.reduce((s, v, k) => s + v * ws[wi][n * K + k], 0);
    const ys = o.swiglu
      ? Array.from({ length: Ns[0] }, (_, n) => { const a = dot(0, n); return (a / (1 + Math.exp(-a))) * dot(1, n); })
      : Ns.flatMap((N, wi) => Array.from({ length: N }, (_, n) => dot(wi, n)));
    out.push(...ys.map((y, n) => y + (o.r ? o.r[m * ys.length + n] : 0)));
  }
  return out;
}

for (const { name, get } of testBackends().filter((b) => b.name !== 'cpu-f64')) {
  describe(`decode kernels on ${name}`, () => {
    // K = 20 (vec4 units), K = 10 (scalar); N not a multiple of a workgroup's columns; M = 1 and 16
    // (one row block); M = 20 (2 blocks of 10), 37 (3 blocks of 13, the last with 11 rows) and 64
    // (4 blocks of 16: a GRPO batch).
    const cases = [
      { M: 1, K: 20, Ns: [12, 6, 6], norm: true, residual: false, swiglu: false },
      { M: 3, K: 10, Ns: [7], norm: false, residual: true, swiglu: false },
      { M: 16, K: 20, Ns: [9, 9], norm: true, residual: false, swiglu: true },
      { M: 5, K: 12, Ns: [17, 3], norm: false, residual: true, swiglu: false },
      { M: 20, K: 20, Ns: [12, 6, 6], norm: true, residual: false, swiglu: false },
      { M: 37, K: 10, Ns: [9, 9], norm: true, residual: false, swiglu: true },
      { M: 64, K: 12, Ns: [17], norm: false, residual: true, swiglu: false },
    ];
    for (const c of cases) {
      it(`fusedProjection M ${c.M}, K ${c.K}, N [${c.Ns}]${c.norm ? ', norm' : ''}${c.residual ? ', residual' : ''}${c.swiglu ? ', swiglu' : ''} = float64 reference`, async () => {
        const backend = await get();
        const x = vals(c.M * c.K, 1), ws = c.Ns.map((N, i) => vals(N * c.K, 2 + i)), g = vals(c.K, 9).map((v) => 1 + 0.5 * v);
        const NT = c.swiglu ? c.Ns[0] : c.Ns.reduce((a, b) => a + b, 0);
        const r = c.residual ? vals(c.M * NT, 11) : undefined;
        const t = (v: number[], s: number[]) => w.tensor(v, s, { backend });
        const y = fusedProjection(t(x, [c.M, c.K]), ws.map((v, i) => t(v, [c.Ns[i], c.K])), {
          norm: c.norm ? { weight: t(g, [c.K]), eps: 1e-5 } : undefined, residual: r ? t(r, [c.M, NT]) : undefined,
          mode: c.swiglu ? 'swiglu' : 'concat',
        });
        expect(y.shape).toEqual([c.M, NT]);
        const want = projectionRef(x, c.M, c.K, ws, c.Ns, { g: c.norm ? g : undefined, eps: 1e-5, r, swiglu: c.swiglu });
        expect(relDiff(await y.data(), want)).toBeLessThan(1e-6);
      });
    }

    it('a Linear on [B, 1, K] (B ≤ 16, the gemv path) and on [B, 3, K] (tiled) equal the float64 product', async () => {
      const backend = await get();
      for (const [B, T, K, N] of [[4, 1, 24, 37], [3, 1, 9, 5], [6, 3, 16, 8]]) {
        const x = vals(B * T * K, 3), wt = vals(N * K, 4);
        const xt = w.tensor(x, [B, T, K], { backend }), wtt = w.tensor(wt, [N, K], { backend });
        const count = () => (backend as Partial<{ counters: { dispatches: number } }>).counters?.dispatches ?? 0;
        const d0 = count();
        const y = w.matmul(xt, wtt, { transB: true });
        if (backend.name === 'webgpu') expect(count() - d0).toBe(1); // one dispatch
        expect(y.shape).toEqual([B, T, N]);
        expect(maxDiff(await y.data(), projectionRef(x, B * T, K, [wt], [N], {}))).toBeLessThan(2e-6);
      }
    });

    for (const style of ['half', 'interleaved'] as const) {
      it(`ropeIntoCache (${style}): q rotated, k rotated and v written at slots start.. of the cache, the rest untouched`, async () => {
        const backend = await get();
        const B = 2, T = 2, H = 4, KV = 2, D = 6, L = 7, start = 3;
        // One fused row per token [q | k | v], and per-sequence positions (left padding).
        const width = (H + 2 * KV) * D;
        const qkv = vals(B * T * width, 5);
        const pos = [[3, 4], [1, 2]];
        const tables = new RopeTables(pos, D, 10000, backend);
        const old = vals(B * KV * L * D, 6);
        const kc = w.tensor(old, [B, KV, L, D], { backend }), vc = w.tensor(old.map((v) => -v), [B, KV, L, D], { backend });
        const t = w.tensor(qkv, [B * T, width], { backend });
        const rows = (offset: number) => ({ t, layout: { stride: width, offset } });
        const q = ropeIntoCache(rows(0), rows(H * D), rows((H + KV) * D), tables, kc, vc, { B, T, H, start, style });
        // Float64: rotate pair (a, b) by angle pos · 10000^(−2i/D).
        const rot = (src: number[], p: number) => {
          const out = src.slice();
          for (let i = 0; i < D / 2; i++) {
            const [ia, ib] = style === 'half' ? [i, i + D / 2] : [2 * i, 2 * i + 1];
            const ang = p * Math.pow(10000, (-2 * i) / D), cs = Math.cos(ang), sn = Math.sin(ang);
            out[ia] = src[ia] * cs - src[ib] * sn;
            out[ib] = src[ib] * cs + src[ia] * sn;
          }
          return out;
        };
        const wantQ = new Array(B * H * T * D).fill(0), wantK = old.slice(), wantV = old.map((v) => -v);
        for (let b = 0; b < B; b++) for (let tt = 0; tt < T; tt++) {
          const r = b * T + tt, row = qkv.slice(r * width, (r + 1) * width);
          for (let h = 0; h < H; h++) wantQ.splice(((b * H + h) * T + tt) * D, D, ...rot(row.slice(h * D, (h + 1) * D), pos[b][tt]));
          for (let h = 0; h < KV; h++) {
            const at = ((b * KV + h) * L + start + tt) * D;
            wantK.splice(at, D, ...rot(row.slice((H + h) * D, (H + h + 1) * D), pos[b][tt]));
            wantV.splice(at, D, ...row.slice((H + KV + h) * D, (H + KV + h + 1) * D));
          }
        }
        expect(q.shape).toEqual([B, H, T, D]);
        expect(maxDiff(await q.data(), wantQ)).toBeLessThan(1e-6);
        expect(maxDiff(await kc.data(), wantK)).toBeLessThan(1e-6);
        expect(maxDiff(await vc.data(), wantV)).toBe(0); // copied: exact
      });
    }

    it('inference only: an input that needs a gradient is refused outside noGrad', async () => {
      const backend = await get();
      const x = w.tensor(vals(4, 1), [1, 4], { backend });
      x.requiresGrad = true;
      expect(() => fusedProjection(x, [w.tensor(vals(8, 2), [2, 4], { backend })])).toThrow(/inference only/);
      expect(w.noGrad(() => fusedProjection(x, [w.tensor(vals(8, 2), [2, 4], { backend })])).shape).toEqual([1, 2]);
    });
  });
}
