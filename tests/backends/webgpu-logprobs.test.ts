// The fused tokenLogprobs primitive and its backward on the WebGPU backend against the cpu backend:
// odd and vec4 column counts, ignored rows, targets at the row edges, large-magnitude logits, folded grids.
// Needs a WebGPU adapter (SwiftShader in CI); skips with the reason if none.
import * as routines from '../../backends/routines/index.ts';
import { describe, expect } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { webgpuSuite } from './gpu-suite.ts';
import { ints, mismatch, rng, type Tol, uniform } from './compare.ts';

const { SEED, cpu, gpuIt } = webgpuSuite();

const TOL: Tol = { atol: 2e-6, rtol: 2e-5 };

interface Case { rows: number; cols: number; logits: number[]; targets: number[]; grad: number[]; ignore: number | null }

/** logp, lse and the backward's dlogits of one case on one backend. */
async function run(b: Backend, c: Case) {
  const x = b.upload(c.logits, 'f32'), t = b.upload(c.targets, 'i32'), g = b.upload(c.grad, 'f32');
  const { logp, lse } = b.run(routines.tokenLogprobs, x, t, c.rows, c.cols, c.ignore);
  const dx = b.run(routines.tokenLogprobsBackward, x, t, lse, g, c.rows, c.cols, c.ignore);
  const out = { logp: await b.read(logp), lse: await b.read(lse), dx: await b.read(dx) };
  for (const s of [x, t, g, logp, lse, dx]) b.free(s);
  return out;
}

async function agree(gpu: Backend, label: string, c: Case, tol = TOL) {
  const want = await run(cpu, c), got = await run(gpu, c);
  for (const k of ['logp', 'lse', 'dx'] as const) {
    expect(mismatch(got[k], want[k], tol), `${label} ${k} (seed ${SEED})`).toBeNull();
  }
  return got;
}

function makeCase(rand: () => number, rows: number, cols: number, ignore: number | null, lo = -6, hi = 6): Case {
  const targets = ints(rand, rows, 0, cols - 1);
  // Every third row ignored; the first and last column as targets where there are rows for them.
  if (ignore !== null) for (let r = 1; r < rows; r += 3) targets[r] = ignore;
  if (rows > 2 && ignore !== 0) { targets[0] = 0; targets[rows - 1] = cols - 1; }
  return { rows, cols, logits: uniform(rand, rows * cols, lo, hi), targets, grad: uniform(rand, rows, -2, 2), ignore };
}

describe('webgpu tokenLogprobs vs cpu', () => {
  const rand = rng(SEED);

  gpuIt('cols 1, 3, 4, 17, 128, 129, 1000, 1027; with and without ignoreIndex', async (g) => {
    for (const [rows, cols] of [[1, 1], [4, 1], [5, 3], [3, 4], [7, 17], [4, 128], [3, 129], [3, 1000], [2, 1027]]) {
      for (const ignore of [null, -100]) {
        const c = makeCase(rand, rows, cols, ignore);
        const got = await agree(g, `[${rows},${cols}] ignore ${ignore}`, c);
        c.targets.forEach((t, r) => {
          if (t !== ignore) return;
          expect(got.logp[r]).toBe(0);
          expect(Array.from(got.dx.subarray(r * cols, (r + 1) * cols)).every((v) => v === 0)).toBe(true);
        });
      }
    }
  });

  gpuIt('an ignoreIndex inside the vocabulary (a pad token id) is ignored, not looked up', async (g) => {
    const c = makeCase(rand, 9, 8, 0);
    c.targets[2] = 0;
    const got = await agree(g, 'ignore 0', c);
    expect(got.logp[2]).toBe(0);
  });

  gpuIt('large-magnitude logits keep the digits of logp (no catastrophic x_t − lse)', async (g) => {
    // Near 3e4 an f32 has ulp 2e-3: x_t − lse would be off by ~1e-3; (x_t − max) − log s is not.
    for (const [rows, cols, off] of [[3, 17, 3e4], [4, 64, -3e4], [2, 129, 1e4]]) {
      const c = makeCase(rand, rows, cols, -100, off - 4, off + 4);
      c.logits = c.logits.map(Math.fround);
      const got = await agree(g, `offset ${off} [${rows},${cols}]`, c, { atol: 1e-5, rtol: 1e-5 });
      c.targets.forEach((t, r) => {
        if (t === -100) return;
        const row = c.logits.slice(r * cols, (r + 1) * cols);
        const m = Math.max(...row);
        const want = row[t] - m - Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
        expect(Math.abs(got.logp[r] - want), `row ${r} (seed ${SEED})`).toBeLessThan(2e-5);
      });
    }
    // A spread of ±1e4 inside one row: softmax is one-hot, the rest underflows to 0, nothing overflows.
    await agree(g, 'spread 1e4', makeCase(rand, 5, 33, -100, -1e4, 1e4), { atol: 1e-5, rtol: 1e-5 });
  });

  gpuIt('a target outside the vocabulary gives NaN on webgpu (cpu throws)', async (g) => {
    const c: Case = { rows: 2, cols: 4, logits: uniform(rand, 8), targets: [1, 4], grad: [1, 1], ignore: -100 };
    await expect(run(cpu, c)).rejects.toThrow(/tokenLogprobs: target 4 at row 1 is out of range \[0, 4\) and is not ignoreIndex -100/);
    const got = await run(g, c);
    expect(Number.isNaN(got.logp[0])).toBe(false);
    expect(Number.isNaN(got.logp[1])).toBe(true);
    expect(Array.from(got.dx.subarray(4)).every(Number.isNaN)).toBe(true);
  });

  gpuIt('folded grids: more rows and elements than workgroups per dimension', async () => {
    const small = await createWebGPUBackend({ maxWorkgroupsPerDimension: 5 });
    try {
      // Forward: 23/24 row workgroups on a 5×5 grid; backward: 7 and 6 workgroups of 256 threads.
      await agree(small, '23 rows, cols 67', makeCase(rand, 23, 67, -100));
      await agree(small, '24 rows, cols 256 (vec4)', makeCase(rand, 24, 256, -100));
    } finally {
      small.destroy();
    }
  });

  gpuIt('zero rows and bad arguments', async (g) => {
    const empty = await run(g, { rows: 0, cols: 5, logits: [], targets: [], grad: [], ignore: null });
    expect([empty.logp.length, empty.lse.length, empty.dx.length]).toEqual([0, 0, 0]);
    const x = g.upload(new Float32Array(12), 'f32'), t = g.upload(new Int32Array(3), 'i32'), f = g.upload(new Float32Array(3), 'f32');
    try {
      expect(() => g.run(routines.tokenLogprobs, x, t, 3, 5, null)).toThrow(/tokenLogprobs: logits must be f32 \[3, 5\] \(15 elements\), got f32 with 12 elements/);
      expect(() => g.run(routines.tokenLogprobs, x, f, 3, 4, null)).toThrow(/tokenLogprobs: targets must be i32 \[3\] \(3 elements\), got f32 with 3 elements/);
      expect(() => g.run(routines.tokenLogprobsBackward, x, t, t, f, 3, 4, null)).toThrow(/tokenLogprobsBackward: lse must be f32 \[3\] \(3 elements\), got i32 with 3 elements/);
      expect(() => g.run(routines.tokenLogprobs, x, t, 3, 4, 0.5)).toThrow(/ignoreIndex 0.5 must be a 32-bit integer/);
    } finally {
      for (const s of [x, t, f]) g.free(s);
    }
  });
});
