// The core suite every runtime runs (vitest on Node, deno test, the Chromium page), on every
// backend. Engine-level cases go in tests/core/cases/*.ts and are appended to `coreCases` here.
// The backend-level cases below use only backends/backend.ts primitives; every expected value
// is worked out by hand in the comment beside it, never taken from a backend's own output.
import * as routines from '../../backends/routines/index.ts';
import type { Backend, Storage } from '../../backends/backend.ts';
import { allClose, assert, assertEqual, type CoreCase } from './harness.ts';
import { engineCases } from './cases/engine.ts';

/** Run fn with a list it can push storages onto; they are freed afterwards, pass or fail. */
async function scoped(backend: Backend, fn: (keep: <S extends Storage>(s: S) => S) => Promise<void>): Promise<void> {
  const live: Storage[] = [];
  try {
    await fn((s) => {
      live.push(s);
      return s;
    });
  } finally {
    for (const s of live) backend.free(s);
  }
}

const iota = (n: number, f: (i: number) => number = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

export const backendCases: CoreCase[] = [
  {
    name: 'backend: upload/read roundtrip (f32, i32, multi-workgroup size)',
    async run({ backend: b }) {
      await scoped(b, async (keep) => {
        // Exactly representable in f32, so both precisions read them back bit for bit.
        const f = [1.5, -2, 3.25, 0, 0.125, -1024.5, 65504];
        const fs = keep(b.upload(f, 'f32'));
        assertEqual(fs.size, 7, 'f32 storage size');
        assertEqual(fs.dtype, 'f32', 'f32 storage dtype');
        allClose(await b.read(fs), f, { atol: 0, rtol: 0, label: 'f32 roundtrip' });

        const i = [-3, 0, 7, 2147483647, -2147483648];
        const is = keep(b.upload(i, 'i32'));
        const iOut = await b.read(is);
        assert(iOut instanceof Int32Array, `i32 storage read back as ${iOut.constructor.name}, not Int32Array`);
        allClose(iOut, i, { atol: 0, rtol: 0, label: 'i32 roundtrip' });

        // 0.1 is not an f32; f32 storage may round it (relative error ≤ 2^-24).
        const big = iota(1000, (k) => k * 0.1);
        allClose(await b.read(keep(b.upload(big, 'f32'))), big, { atol: 0, rtol: 1e-7, label: 'f32 roundtrip, 1000 elements' });

        // fill: 5 copies of -0.75.
        allClose(await b.read(keep(b.fill(5, -0.75, 'f32'))), [-0.75, -0.75, -0.75, -0.75, -0.75], { atol: 0, rtol: 0, label: 'fill' });
      });
    },
  },
  {
    name: 'backend: free returns the live-buffer count to where it was',
    async run({ backend: b }) {
      const before = b.memoryStats().liveBuffers;
      const x = b.upload([1, 2, 3], 'f32');
      const y = b.fill(4, 0, 'i32');
      assertEqual(b.memoryStats().liveBuffers, before + 2, 'liveBuffers after two allocations');
      b.free(x);
      b.free(y);
      assertEqual(b.memoryStats().liveBuffers, before, 'liveBuffers after freeing both');
    },
  },
  {
    name: 'backend: binary add/sub with broadcast, transposed and offset views',
    async run({ backend: b }) {
      await scoped(b, async (keep) => {
        const a = keep(b.upload([1, 2, 3, 4, 5, 6], 'f32')); // [[1,2,3],[4,5,6]]
        const row = keep(b.upload([10, 20, 30], 'f32'));
        const col = keep(b.upload([100, 200], 'f32'));
        const seq = keep(b.upload([0, 1, 2, 3], 'f32'));
        const half = keep(b.upload([0.5], 'f32'));
        const A = { storage: a, offset: 0, strides: [3, 1] };

        // Row vector over both rows: [[1+10, 2+20, 3+30], [4+10, 5+20, 6+30]].
        const r1 = keep(b.binary('add', A, { storage: row, offset: 0, strides: [0, 1] }, [2, 3]));
        allClose(await b.read(r1), [11, 22, 33, 14, 25, 36], { atol: 0, rtol: 0, label: 'a + row', shape: [2, 3] });

        // Column vector over all columns: [[1+100, 2+100, 3+100], [4+200, 5+200, 6+200]].
        const r2 = keep(b.binary('add', A, { storage: col, offset: 0, strides: [1, 0] }, [2, 3]));
        allClose(await b.read(r2), [101, 102, 103, 204, 205, 206], { atol: 0, rtol: 0, label: 'a + col', shape: [2, 3] });

        // Operand order: [[1-10, 2-20, 3-30], [4-10, 5-20, 6-30]].
        const r3 = keep(b.binary('sub', A, { storage: row, offset: 0, strides: [0, 1] }, [2, 3]));
        allClose(await b.read(r3), [-9, -18, -27, -6, -15, -24], { atol: 0, rtol: 0, label: 'a - row', shape: [2, 3] });

        // aᵀ (strides [1, 3]) = [[1,4],[2,5],[3,6]] plus seq[1 + i] broadcast along j = [[1],[2],[3]]:
        // [[2,5],[4,7],[6,9]].
        const r4 = keep(b.binary('add', { storage: a, offset: 0, strides: [1, 3] }, { storage: seq, offset: 1, strides: [1, 0] }, [3, 2]));
        allClose(await b.read(r4), [2, 5, 4, 7, 6, 9], { atol: 0, rtol: 0, label: 'aᵀ + offset col', shape: [3, 2] });

        // A scalar broadcast to [2, 3]: a + 0.5.
        const r5 = keep(b.binary('add', A, { storage: half, offset: 0, strides: [0, 0] }, [2, 3]));
        allClose(await b.read(r5), [1.5, 2.5, 3.5, 4.5, 5.5, 6.5], { atol: 0, rtol: 0, label: 'a + scalar', shape: [2, 3] });
      });
    },
  },
  {
    name: 'backend: reduce sum/max over leading, middle and last axes',
    async run({ backend: b }) {
      await scoped(b, async (keep) => {
        // x = 0..11 viewed [2, 3, 2], x[o][r][i] = 6o + 2r + i; sum over r:
        // o=0: [0+2+4, 1+3+5] = [6, 9]; o=1: [6+8+10, 7+9+11] = [24, 27].
        const x = keep(b.upload(iota(12), 'f32'));
        allClose(await b.read(keep(b.reduce('sum', x, 2, 3, 2))), [6, 9, 24, 27], { atol: 0, rtol: 0, label: 'sum middle' });

        // Same data as [3, 4], sum over the first axis: [0+4+8, 1+5+9, 2+6+10, 3+7+11].
        allClose(await b.read(keep(b.reduce('sum', x, 1, 3, 4))), [12, 15, 18, 21], { atol: 0, rtol: 0, label: 'sum leading' });

        // Three rows of 1000 (more than one workgroup), row o holds k + o for k = 0..999:
        // Σk = 999·1000/2 = 499500, plus 1000·o. All partial sums are integers < 2^24, so exact in f32.
        const rows = keep(b.upload(iota(3000, (j) => (j % 1000) + Math.floor(j / 1000)), 'f32'));
        allClose(await b.read(keep(b.reduce('sum', rows, 3, 1000, 1))), [499500, 500500, 501500], { atol: 0, rtol: 0, label: 'sum last, r=1000' });

        // Max must not start from 0: y[o][r][i] = -(6o + 2r + i + 1), max over r is the r=0 entry:
        // o=0: [-1, -2]; o=1: [-7, -8].
        const y = keep(b.upload(iota(12, (k) => -(k + 1)), 'f32'));
        allClose(await b.read(keep(b.reduce('max', y, 2, 3, 2))), [-1, -2, -7, -8], { atol: 0, rtol: 0, label: 'max of negatives' });
      });
    },
  },
  {
    name: 'backend: matmul 2×3·3×2, transposed operands, batch with broadcast B',
    async run({ backend: b }) {
      await scoped(b, async (keep) => {
        // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]:
        // C = [[1·7+2·9+3·11, 1·8+2·10+3·12], [4·7+5·9+6·11, 4·8+5·10+6·12]] = [[58, 64], [139, 154]].
        const C = [58, 64, 139, 154];
        const p = { batch: 1, m: 2, n: 2, k: 3, transA: false, transB: false, aBatchStride: 6, bBatchStride: 6 };
        const a = keep(b.upload([1, 2, 3, 4, 5, 6], 'f32'));
        const bm = keep(b.upload([7, 8, 9, 10, 11, 12], 'f32'));
        allClose(await b.read(keep(b.matmul(a, bm, p))), C, { atol: 0, rtol: 0, label: 'A·B', shape: [2, 2] });

        // Bᵀ stored [n, k] = [[7,9,11],[8,10,12]]; Aᵀ stored [k, m] = [[1,4],[2,5],[3,6]]. Same C.
        const bt = keep(b.upload([7, 9, 11, 8, 10, 12], 'f32'));
        const at = keep(b.upload([1, 4, 2, 5, 3, 6], 'f32'));
        allClose(await b.read(keep(b.matmul(a, bt, { ...p, transB: true }))), C, { atol: 0, rtol: 0, label: 'A·(Bᵀ stored)', shape: [2, 2] });
        allClose(await b.read(keep(b.matmul(at, bm, { ...p, transA: true }))), C, { atol: 0, rtol: 0, label: '(Aᵀ stored)·B', shape: [2, 2] });

        // Two A matrices (A, -A) against one shared B (bBatchStride 0): [C, -C].
        const a2 = keep(b.upload([1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6], 'f32'));
        const out = keep(b.matmul(a2, bm, { ...p, batch: 2, bBatchStride: 0 }));
        allClose(await b.read(out), [...C, ...C.map((v) => -v)], { atol: 0, rtol: 0, label: 'batched, B broadcast', shape: [2, 2, 2] });
      });
    },
  },
  {
    name: 'backend: softmax, log-softmax and logsumexp (including large logits)',
    async run({ backend: b }) {
      await scoped(b, async (keep) => {
        // Row 0 [1, 2, 3]: shifted by max, exp = [e^-2, e^-1, 1] = [0.1353352832, 0.3678794412, 1],
        //   sum 1.5032147244 → p = [0.0900305732, 0.2447284711, 0.6652409558];
        //   logsumexp = 3 + ln 1.5032147244 = 3.4076059644, log p = x - 3.4076059644.
        // Row 1 [0, 0, 0]: p = 1/3 each, logsumexp = ln 3 = 1.0986122887.
        // Row 2 [1000, 1000, 0]: a naive exp overflows; p = [0.5, 0.5, e^-1000 ≈ 0],
        //   logsumexp = 1000 + ln 2 = 1000.6931471806, log p = [-ln 2, -ln 2, -1000.6931471806].
        const x = keep(b.upload([1, 2, 3, 0, 0, 0, 1000, 1000, 0], 'f32'));
        const third = 1 / 3;
        const ln2 = 0.6931471806;
        const tol = { atol: 1e-6, rtol: 1e-5, shape: [3, 3] };
        allClose(
          await b.read(keep(b.run(routines.softmax, x, 3, 3, false))),
          [0.0900305732, 0.2447284711, 0.6652409558, third, third, third, 0.5, 0.5, 0],
          { ...tol, label: 'softmax' },
        );
        allClose(
          await b.read(keep(b.run(routines.softmax, x, 3, 3, true))),
          [-2.4076059644, -1.4076059644, -0.4076059644, -1.0986122887, -1.0986122887, -1.0986122887, -ln2, -ln2, -1000.6931471806],
          { ...tol, label: 'log-softmax' },
        );
        allClose(await b.read(keep(b.run(routines.logsumexp, x, 3, 3))), [3.4076059644, 1.0986122887, 1000.6931471806], {
          atol: 1e-6,
          rtol: 1e-5,
          label: 'logsumexp',
        });
      });
    },
  },
];

export const coreCases: CoreCase[] = [...backendCases, ...engineCases];
