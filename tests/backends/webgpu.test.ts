// Every Backend primitive on the WebGPU backend against the cpu backend, on seeded random inputs
// (set WGRAD_TEST_SEED to replay a failure), plus the backend's own machinery: upload/dispatch
// ordering, batching into few submits, the buffer pool, and its error messages.
// Needs a WebGPU adapter (SwiftShader in CI: see tests/setup/env.ts); skips with the reason if none.
import * as routines from '../../backends/routines/index.ts';
import { describe, expect } from 'vitest';
import type { Backend, DType, ReduceOp, Storage, View } from '../../backends/backend.ts';
import { createWebGPUBackend, type WebGPUBackend, WebGPUUnavailableError } from '../../backends/webgpu/index.ts';
import { ints, mismatch, rng, type Tol, uniform } from './compare.ts';
import { binary, type BinaryName as BinaryOp, unary, type UnaryName as UnaryOp, where } from './elementwise-ops.ts';
import { webgpuSuite } from './gpu-suite.ts';
import { splitK } from '../../backends/webgpu/matmul.ts';
import { mmaEligible, roundToF16 } from '../../kernels/matmul-mma.ts';

const { SEED, cpu, gpuIt } = webgpuSuite();

const F32: Tol = { atol: 1e-6, rtol: 2e-6 };
const EXACT: Tol = { atol: 0, rtol: 0 };

interface Input { data: ArrayLike<number>; dtype: DType }
type Op = (b: Backend, xs: Storage[]) => Storage;

async function run(b: Backend, inputs: Input[], f: Op) {
  const xs = inputs.map((i) => b.upload(i.data, i.dtype));
  const out = f(b, xs);
  const data = await b.read(out);
  const dtype = out.dtype;
  for (const x of xs) b.free(x);
  if (!xs.includes(out)) b.free(out);
  return { data, dtype };
}

/** Run f on cpu and webgpu with the same inputs; same dtype, same array type, values within tol. */
async function agree(g: WebGPUBackend, label: string, inputs: Input[], f: Op, tol: Tol = F32) {
  const want = await run(cpu, inputs, f);
  const got = await run(g, inputs, f);
  expect(got.dtype, label).toBe(want.dtype);
  expect(got.data.constructor.name, label).toBe(want.data.constructor.name);
  expect(mismatch(got.data, want.data, tol), `${label} (seed ${SEED})`).toBeNull();
}

const f32 = (data: ArrayLike<number>): Input => ({ data, dtype: 'f32' });
const i32 = (data: ArrayLike<number>): Input => ({ data, dtype: 'i32' });
const view = (storage: Storage, offset: number, strides: number[]): View => ({ storage, offset, strides });
const contiguous = (shape: number[]) => shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));

describe('webgpu backend vs cpu', () => {
  const rand = rng(SEED);

  // Inputs where each op is well defined and interesting (large angles for RoPE-style sin/cos,
  // saturating tanh/sigmoid, wide softplus).
  const unaryInputs: Record<UnaryOp, [number, number]> = {
    neg: [-10, 10], exp: [-10, 10], log: [0.01, 100], sqrt: [0, 100], rsqrt: [0.01, 100], abs: [-10, 10],
    sign: [-2, 2], sigmoid: [-30, 30], tanh: [-20, 20], relu: [-5, 5], silu: [-10, 10], gelu_tanh: [-6, 6],
    gelu_erf: [-6, 6], softplus: [-40, 40], logsigmoid: [-40, 40], square: [-10, 10], recip: [0.1, 10],
    sin: [-1000, 1000], cos: [-1000, 1000], step: [-2, 2], erf: [-5, 5], floor: [-10, 10],
    cast_f32: [-100, 100], cast_i32: [-1e4, 1e4], reciprocal: [0.1, 10], mish: [-10, 10], hardswish: [-6, 6],
    log1mexp: [-10, -1e-3],
  };
  const unaryOps = Object.keys(unaryInputs) as UnaryOp[];

  gpuIt('unary f32: every op, sizes 1, 3, 17, 129, 1000', async (g) => {
    for (const op of unaryOps) {
      const [lo, hi] = unaryInputs[op];
      for (const n of [1, 3, 17, 129, 1000]) {
        const x = uniform(rand, n, lo, hi);
        if (n === 1000) x.splice(0, 8, 0, -0, 1e-7, -1e-7, 0.5, -0.5, 3, -3); // small/tie values
        if (op === 'recip' && n === 1000) x.splice(0, 8, 1, 2, 3, 4, 5, 6, 7, 8);
        if ((op === 'log' || op === 'rsqrt') && n === 1000) x.splice(0, 8, 1, 2, 3, 4, 0.5, 0.25, 7, 8);
        const tol = op === 'exp' || op === 'sqrt' || op === 'rsqrt' || op === 'recip' || op === 'softplus' || op === 'log'
          ? { atol: 1e-6, rtol: 4e-6 } : F32;
        await agree(g, `unary ${op} f32 n=${n}`, [f32(x)], (b, [a]) => unary(b, op, a), tol);
      }
    }
  });

  gpuIt('unary f32: sin/cos at small angles, tanh/erf near 0, cast_i32 edge cases', async (g) => {
    const small = [...uniform(rand, 200, -4, 4), ...uniform(rand, 50, -1e-3, 1e-3)];
    for (const op of ['sin', 'cos', 'tanh', 'erf', 'gelu_erf', 'gelu_tanh', 'sigmoid', 'softplus', 'logsigmoid'] as UnaryOp[]) {
      await agree(g, `unary ${op} small`, [f32(small)], (b, [a]) => unary(b, op, a));
    }
    const edge = [3e9, -3e9, 2147483520, -2147483648, 1e20, -1e20, 2.5, -2.5, 0.99, -0.99, NaN, Infinity, -Infinity];
    await agree(g, 'cast_i32 edges', [f32(edge)], (b, [a]) => unary(b, 'cast_i32', a), EXACT);
  });

  gpuIt('unary i32: integer ops exact (wrapping), float ops through ToInt32', async (g) => {
    const wide = [...ints(rand, 129, -1_000_000, 1_000_000), 0, 1, -1, 2147483647, -2147483648];
    for (const op of ['neg', 'abs', 'sign', 'relu', 'step', 'floor', 'cast_f32', 'cast_i32'] as UnaryOp[]) {
      await agree(g, `unary ${op} i32`, [i32(wide)], (b, [a]) => unary(b, op, a), EXACT);
    }
    await agree(g, 'unary square i32', [i32(wide.slice(0, 129))], (b, [a]) => unary(b, 'square', a), EXACT);
    // |x| ≤ 3 keeps every result clear of an integer that f32 rounding could reach (erf(5) is 1 in f32).
    const small = ints(rand, 64, -3, 3);
    const viaFloat: UnaryOp[] = ['exp', 'sigmoid', 'tanh', 'silu', 'softplus', 'sin', 'cos', 'log', 'erf', 'gelu_tanh', 'logsigmoid'];
    for (const op of viaFloat) {
      await agree(g, `unary ${op} i32`, [i32(small)], (b, [a]) => unary(b, op, a), EXACT);
    }
  });

  // Broadcast / strided layouts: [name, outShape, a view, b view, a size, b size].
  const layouts: [string, number[], [number, number[]], [number, number[]], number, number][] = [
    ['same 1-D n=1', [1], [0, [1]], [0, [1]], 1, 1],
    ['same 1-D n=129', [129], [0, [1]], [0, [1]], 129, 129],
    ['broadcast [3,1,5]×[1,4,5]', [3, 4, 5], [0, [5, 0, 1]], [0, [0, 5, 1]], 15, 20],
    ['transposed a, sliced b', [7, 6], [0, [1, 7]], [3, [6, 1]], 42, 50],
    ['scalar b', [3, 17], [0, [17, 1]], [2, [0, 0]], 51, 3],
    ['rank 5 permuted', [2, 3, 2, 3, 2], [0, [1, 2, 18, 6, 36]], [1, [36, 12, 6, 2, 1]], 72, 73],
    ['negative stride (flip)', [17], [16, [-1]], [0, [1]], 17, 17],
    // 16-byte aligned, innermost-contiguous views take the vec4 kernels; the last one is misaligned.
    ['vec4: contiguous n=1000', [1000], [0, [1]], [0, [1]], 1000, 1000],
    ['vec4: row bias', [3, 8], [0, [8, 1]], [0, [0, 1]], 24, 8],
    ['vec4 with a scalar b (read once per thread)', [4, 8], [0, [8, 1]], [2, [0, 0]], 32, 3],
    ['vec4: offset slices', [2, 12], [4, [16, 1]], [8, [12, 1]], 40, 40],
    ['misaligned offset', [2, 12], [2, [16, 1]], [8, [12, 1]], 40, 40],
  ];

  const binaryInputs = (op: BinaryOp, n: number, dtype: DType): number[] => {
    if (dtype === 'i32') {
      if (op === 'pow') return ints(rand, n, -3, 3);
      return ints(rand, n, -20, 20);
    }
    if (op === 'eq' || op === 'ne' || op === 'lt' || op === 'le' || op === 'gt' || op === 'ge' ||
        op === 'maximum' || op === 'minimum') return ints(rand, n, -3, 3); // many ties
    if (op === 'pow') return uniform(rand, n, 0.1, 3);
    return uniform(rand, n, -2, 2);
  };
  const binaryOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];

  gpuIt('binary f32: every op over broadcast, transposed, sliced and flipped views', async (g) => {
    for (const op of binaryOps) {
      for (const [name, shape, [ao, as], [bo, bs], an, bn] of layouts) {
        const a = binaryInputs(op, an, 'f32');
        let b = binaryInputs(op, bn, 'f32');
        if (op === 'div') b = b.map((v) => (Math.abs(v) < 0.1 ? 0.5 : v));
        if (op === 'pow') b = uniform(rand, bn, -2, 2);
        await agree(g, `binary ${op} f32 ${name}`, [f32(a), f32(b)],
          (be, [x, y]) => binary(be, op, view(x, ao, as), view(y, bo, bs), shape), { atol: 1e-6, rtol: 4e-6 });
      }
    }
  });

  gpuIt('binary f32 pow: negative bases with integer exponents, zero bases', async (g) => {
    const a = [-2, -2, -2, -0.5, -3, 0, 0, 0, 2, -1.5, 4];
    const b = [2, 3, -1, 3, 0, 2, 0, -1, 0.5, 0.5, -0.5];
    await agree(g, 'pow edges', [f32(a), f32(b)], (be, [x, y]) => binary(be, 'pow', view(x, 0, [1]), view(y, 0, [1]), [a.length]), { atol: 1e-6, rtol: 4e-6 });
  });

  gpuIt('binary i32: every op (wrapping, division toward zero, x / 0 = x)', async (g) => {
    for (const op of binaryOps) {
      for (const [name, shape, [ao, as], [bo, bs], an, bn] of layouts) {
        const a = binaryInputs(op, an, 'i32');
        const b = op === 'pow' ? ints(rand, bn, -2, 6) : binaryInputs(op, bn, 'i32');
        await agree(g, `binary ${op} i32 ${name}`, [i32(a), i32(b)],
          (be, [x, y]) => binary(be, op, view(x, ao, as), view(y, bo, bs), shape), EXACT);
      }
    }
    const big = [2147483647, -2147483648, 123456789, -7, 7, -7];
    const other = [1, -1, 1000, 2, -2, 0];
    for (const op of ['add', 'sub', 'mul', 'div'] as BinaryOp[]) {
      await agree(g, `binary ${op} i32 overflow`, [i32(big), i32(other)],
        (be, [x, y]) => binary(be, op, view(x, 0, [1]), view(y, 0, [1]), [6]), EXACT);
    }
  });

  gpuIt('where: f32 and i32 values, f32 and i32 conditions, broadcast', async (g) => {
    const shape = [4, 3, 5];
    const cond = [0, 1, -0, 2.5, 0]; // broadcast along the last axis only
    for (const [cdt, vdt] of [['f32', 'f32'], ['i32', 'f32'], ['f32', 'i32'], ['i32', 'i32']] as [DType, DType][]) {
      const a = vdt === 'f32' ? uniform(rand, 60) : ints(rand, 60, -100, 100);
      const b = vdt === 'f32' ? uniform(rand, 12) : ints(rand, 12, -100, 100);
      const c = cdt === 'f32' ? cond : cond.map((v) => Math.trunc(v));
      await agree(g, `where cond ${cdt} values ${vdt}`, [{ data: c, dtype: cdt }, { data: a, dtype: vdt }, { data: b, dtype: vdt }],
        (be, [cs, as, bs]) => where(be, view(cs, 0, [0, 0, 1]), view(as, 0, contiguous(shape)), view(bs, 0, [3, 1, 0]), shape), EXACT);
      // vec4: [4, 8] with a row-broadcast condition and an offset, aligned b.
      const c8 = cdt === 'f32' ? [0, 1, -0, 2.5, 0, 0, 3, 1] : [0, 1, 0, 2, 0, 0, 3, 1];
      await agree(g, `where vec4 cond ${cdt} values ${vdt}`, [{ data: c8, dtype: cdt }, { data: a, dtype: vdt }, { data: a, dtype: vdt }],
        (be, [cs, as, bs]) => where(be, view(cs, 0, [0, 1]), view(as, 4, [8, 1]), view(bs, 8, [12, 1]), [4, 8]), EXACT);
    }
  });

  gpuIt('copy: transpose, permute, slice, broadcast, flip, rank 0, contiguous with offset, i32', async (g) => {
    const cases: [string, number, number[], number, number[]][] = [
      ['transpose', 35, [7, 5], 0, [1, 7]],
      ['permute 3-D', 3 * 17 * 5, [5, 3, 17], 0, [1, 85, 5]],
      ['slice', 200, [4, 3], 13, [20, 2]],
      ['broadcast', 5, [3, 5], 0, [0, 1]],
      ['flip', 129, [129], 128, [-1]],
      ['rank 0', 4, [], 2, []],
      ['contiguous offset', 300, [2, 129], 7, [129, 1]],
      ['vec4 rows', 200, [3, 16], 8, [32, 1]],
    ];
    for (const dt of ['f32', 'i32'] as DType[]) {
      for (const [name, n, shape, off, strides] of cases) {
        const data = dt === 'f32' ? uniform(rand, n) : ints(rand, n, -1000, 1000);
        await agree(g, `copy ${name} ${dt}`, [{ data, dtype: dt }], (be, [x]) => be.copy(view(x, off, strides), shape), EXACT);
      }
    }
  });

  gpuIt('copyInto: strided window (concat/pad), contiguous window, i32', async (g) => {
    for (const dt of ['f32', 'i32'] as DType[]) {
      const gen = (n: number) => (dt === 'f32' ? uniform(rand, n) : ints(rand, n, -1000, 1000));
      await agree(g, `copyInto column block ${dt}`, [{ data: gen(40), dtype: dt }, { data: gen(12), dtype: dt }],
        (be, [d, s]) => { be.copyInto(view(d, 2, [10, 1]), s, [4, 3]); return d; }, EXACT);
      await agree(g, `copyInto contiguous ${dt}`, [{ data: gen(200), dtype: dt }, { data: gen(129), dtype: dt }],
        (be, [d, s]) => { be.copyInto(view(d, 5, [1]), s, [129]); return d; }, EXACT);
      await agree(g, `copyInto vec4 window ${dt}`, [{ data: gen(80), dtype: dt }, { data: gen(48), dtype: dt }],
        (be, [d, s]) => { be.copyInto(view(d, 4, [20, 1]), s, [3, 16]); return d; }, EXACT);
      await agree(g, `copyInto transposed ${dt}`, [{ data: gen(35), dtype: dt }, { data: gen(35), dtype: dt }],
        (be, [d, s]) => { be.copyInto(view(d, 0, [1, 7]), s, [7, 5]); return d; }, EXACT);
    }
  });

  gpuIt('copyInto from a storage into itself reads a snapshot', async (g) => {
    const x = g.upload([1, 2, 3, 4, 5], 'f32');
    g.copyInto(view(x, 4, [-1]), x, [5]); // reverse in place
    expect(Array.from(await g.read(x))).toEqual([5, 4, 3, 2, 1]);
    g.free(x);
  });

  const reduceShapes: [number, number, number][] = [
    [1, 1, 1], [3, 17, 1], [2, 129, 3], [5, 300, 65], [2, 5000, 7], [1, 70001, 1], [4, 3, 129], [1, 33, 1000],
    [3, 4096, 1], [1, 80000, 1], // whole vec4 rows: 16-byte loads, the second also split across passes
  ];

  gpuIt('reduce sum/max/min f32 and i32, including r > 70000 (multi-pass)', async (g) => {
    for (const op of ['sum', 'max', 'min'] as ReduceOp[]) {
      for (const [outer, r, inner] of reduceShapes) {
        const n = outer * r * inner;
        const tol = op === 'sum' ? { atol: 1e-5 * Math.sqrt(r), rtol: 1e-5 } : EXACT;
        await agree(g, `reduce ${op} f32 [${outer},${r},${inner}]`, [f32(uniform(rand, n))],
          (b, [x]) => b.reduce(op, x, outer, r, inner), tol);
        await agree(g, `reduce ${op} i32 [${outer},${r},${inner}]`, [i32(ints(rand, n, -1000, 1000))],
          (b, [x]) => b.reduce(op, x, outer, r, inner), EXACT);
      }
    }
  });

  gpuIt('reduce edge cases: r = 0, empty output, NaN propagation in max/min', async (g) => {
    for (const op of ['sum', 'max', 'min'] as ReduceOp[]) {
      await agree(g, `reduce ${op} r=0`, [f32([])], (b, [x]) => b.reduce(op, x, 2, 0, 3), EXACT);
      await agree(g, `reduce ${op} i32 r=0`, [i32([])], (b, [x]) => b.reduce(op, x, 2, 0, 3), EXACT);
      await agree(g, `reduce ${op} outer=0`, [f32([])], (b, [x]) => b.reduce(op, x, 0, 5, 3), EXACT);
    }
    const withNaN = [1, 2, NaN, 4, 5, 6, 7, 8];
    await agree(g, 'reduce max NaN', [f32(withNaN)], (b, [x]) => b.reduce('max', x, 2, 4, 1), EXACT);
    await agree(g, 'reduce min NaN', [f32(withNaN)], (b, [x]) => b.reduce('min', x, 2, 4, 1), EXACT);
  });

  gpuIt('argmax: first maximum wins, -inf rows, multi-pass r > 70000, i32', async (g) => {
    for (const [outer, r, inner] of [...reduceShapes, [2, 100, 70] as [number, number, number]]) {
      const n = outer * r * inner;
      await agree(g, `argmax f32 [${outer},${r},${inner}]`, [f32(uniform(rand, n))], (b, [x]) => b.argmax(x, outer, r, inner), EXACT);
      await agree(g, `argmax ties [${outer},${r},${inner}]`, [f32(ints(rand, n, 0, 3))], (b, [x]) => b.argmax(x, outer, r, inner), EXACT);
      await agree(g, `argmax i32 [${outer},${r},${inner}]`, [i32(ints(rand, n, -5, 5))], (b, [x]) => b.argmax(x, outer, r, inner), EXACT);
    }
    const long = new Array(70001).fill(1);
    long[12345] = 2; long[69999] = 2; // tie across the two passes' groups
    await agree(g, 'argmax tie across groups', [f32(long)], (b, [x]) => b.argmax(x, 1, 70001, 1), EXACT);
    const inf = [-Infinity, -Infinity, -Infinity, NaN, 3, NaN];
    await agree(g, 'argmax -inf / NaN rows', [f32(inf)], (b, [x]) => b.argmax(x, 2, 3, 1), EXACT);
    await agree(g, 'argmax r=0', [f32([])], (b, [x]) => b.argmax(x, 3, 0, 2), EXACT);
  });

  gpuIt('matmul: all transpose variants, odd M/N/K, batch broadcast (stride 0), k = 0', async (g) => {
    // [batch, m, n, k, A batch-broadcast, B batch-broadcast]
    const dims: [number, number, number, number, boolean, boolean][] = [
      [1, 1, 1, 1, false, false], [1, 17, 33, 5, false, false], [2, 65, 3, 129, true, false], [3, 67, 70, 19, false, true],
      // 16-byte aligned shapes: kernels/matmul.ts picks its vec4 (and, at tile multiples, unchecked) variants.
      [1, 64, 64, 64, false, false], [2, 36, 8, 12, false, false],
    ];
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [batch, m, n, k, bcastA, bcastB] of dims) {
          {
            const [sa, sb] = [bcastA ? 0 : m * k, bcastB ? 0 : k * n];
            const an = sa === 0 ? m * k : batch * m * k, bn = sb === 0 ? k * n : batch * k * n;
            const p = { batch, m, n, k, transA, transB, aBatchStride: sa, bBatchStride: sb };
            await agree(g, `matmul ${JSON.stringify(p)}`, [f32(uniform(rand, an)), f32(uniform(rand, bn))],
              (b, [x, y]) => b.matmul(x, y, p), { atol: 2e-6 * Math.sqrt(k) + 1e-6, rtol: 1e-5 });
          }
        }
      }
    }
    const p0 = { batch: 2, m: 3, n: 4, k: 0, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
    await agree(g, 'matmul k=0', [f32([]), f32([])], (b, [x, y]) => b.matmul(x, y, p0), EXACT);
  });

  gpuIt('matmul split-K: small outputs with long K (LoRA gradients), every transpose, checked and vec4', async (g) => {
    // [m, n, k] → splits (backends/webgpu/matmul.ts splitK): each chosen so the split-K path runs.
    const dims: [number, number, number][] = [[16, 40, 1024], [5, 7, 512], [36, 16, 768]];
    for (const [m, n, k] of dims) {
      expect(splitK(m, n, k), `splitK(${m}, ${n}, ${k})`).toBeGreaterThan(1);
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const p = { batch: 1, m, n, k, transA, transB, aBatchStride: 0, bBatchStride: 0 };
          await agree(g, `split-K matmul ${JSON.stringify(p)}`, [f32(uniform(rand, m * k)), f32(uniform(rand, k * n))],
            (b, [x, y]) => b.matmul(x, y, p), { atol: 2e-6 * Math.sqrt(k) + 1e-6, rtol: 1e-5 });
        }
      }
    }
    expect(splitK(4096, 576, 576), 'a large output is not split').toBe(1);
    expect(splitK(16, 576, 4096), 'the LoRA dA shape of the SmolLM2 step').toBe(32);
    expect(splitK(256, 576, 49152), 'the lm_head dX chunk of the SmolLM2 step: until ~a wave of threads').toBe(64);
  });

  gpuIt('matmul precision f16: subgroup-matrix products where the device has them, else a clear error', async (g) => {
    await expect(createWebGPUBackend({ matmulPrecision: 'bf16' as 'f16' })).rejects.toThrow(/matmul precision 'bf16' .* must be 'f32' or 'f16'/);
    const mma = g.features.has('shader-f16') && g.features.has('chromium-experimental-subgroup-matrix') && g.profile.name === 'nvidia';
    if (!mma) {
      await expect(createWebGPUBackend({ matmulPrecision: 'f16' })).rejects.toThrow(/matmul precision 'f16' needs .*(shader-f16|subgroup-matrix|32-lane)/);
      return;
    }
    // Inputs already f16 make the product exact up to summation order: any staging slip is O(1).
    const h = await createWebGPUBackend({ matmulPrecision: 'f16' });
    try {
      for (const [m, n, k, transA, transB, batch] of [[64, 48, 40, false, true, 1], [32, 96, 36, true, false, 2], [80, 64, 64, true, true, 1], [48, 32, 100, false, false, 1]] as const) {
        expect(mmaEligible({ m, n, k, transA, transB, aBatchStride: m * k, bBatchStride: k * n })).toBe(true);
        const p = { batch, m, n, k, transA, transB, aBatchStride: batch > 1 ? m * k : 0, bBatchStride: batch > 1 ? k * n : 0 };
        const a = Array.from(uniform(rand, batch * m * k), roundToF16), b = Array.from(uniform(rand, batch * k * n), roundToF16);
        await agree(h, `mma matmul ${JSON.stringify(p)}`, [f32(a), f32(b)], (be, [x, y]) => be.matmul(x, y, p), { atol: 1e-5, rtol: 1e-5 });
      }
    } finally {
      h.destroy();
    }
  });

  gpuIt('small grid limit: 1-D work folds into 2-D grids, matmul batches split (batchOffset)', async () => {
    // The same folding/splitting that 65535 triggers on big inputs, at sizes SwiftShader runs fast.
    const small = await createWebGPUBackend({ maxWorkgroupsPerDimension: 5 });
    try {
      const p = { batch: 12, m: 9, n: 7, k: 5, transA: false, transB: true, aBatchStride: 45, bBatchStride: 0 };
      await agree(small, 'matmul batch 12 in dispatches of 5', [f32(uniform(rand, 12 * 45)), f32(uniform(rand, 35))],
        (b, [x, y]) => b.matmul(x, y, p), { atol: 1e-5, rtol: 1e-5 });
      await agree(small, 'unary over a folded 5×4 grid', [f32(uniform(rand, 5000))], (b, [x]) => unary(b, 'exp', x));
      await agree(small, 'copy over a folded grid', [f32(uniform(rand, 5000))], (b, [x]) => b.copy(view(x, 0, [1, 50]), [50, 100]), EXACT);
      await agree(small, 'reduce, 23 rows', [f32(uniform(rand, 23 * 300))], (b, [x]) => b.reduce('max', x, 23, 300, 1), EXACT);
      await agree(small, 'argmax, 23 rows', [f32(uniform(rand, 23 * 300))], (b, [x]) => b.argmax(x, 23, 300, 1), EXACT);
      await agree(small, 'softmax, 23 rows', [f32(uniform(rand, 23 * 30))], (b, [x]) => b.run(routines.softmax, x, 23, 30, false), { atol: 1e-7, rtol: 2e-5 });
      const big = small.upload(new Float32Array(256 * 26 + 1), 'f32'); // odd size: the scalar kernel
      expect(() => unary(small, 'exp', big)).toThrow(/27 workgroups exceed 5² even when folded/);
    } finally {
      small.destroy();
    }
  });

  gpuIt('gather and scatterAdd: f32 and i32 tables, repeated indices, cols 1', async (g) => {
    for (const [rows, cols, n] of [[10, 7, 13], [129, 1, 300], [3, 17, 1], [5, 4, 0]]) {
      const idx = ints(rand, n, 0, rows - 1);
      await agree(g, `gather f32 [${rows},${cols}] n=${n}`, [f32(uniform(rand, rows * cols)), i32(idx)],
        (b, [t, i]) => b.gather(t, i, rows, cols), EXACT);
      await agree(g, `gather i32 [${rows},${cols}] n=${n}`, [i32(ints(rand, rows * cols, -99, 99)), i32(idx)],
        (b, [t, i]) => b.gather(t, i, rows, cols), EXACT);
      await agree(g, `scatterAdd f32 [${rows},${cols}] n=${n}`, [f32(uniform(rand, n * cols)), i32(idx)],
        (b, [s, i]) => b.scatterAdd(s, i, rows, cols), { atol: 1e-6, rtol: 1e-5 });
      await agree(g, `scatterAdd i32 [${rows},${cols}] n=${n}`, [i32(ints(rand, n * cols, -99, 99)), i32(idx)],
        (b, [s, i]) => b.scatterAdd(s, i, rows, cols), EXACT);
    }
  });

  gpuIt('softmax, log-softmax, logsumexp: odd widths, masks (-inf), all -inf rows, a 70001-wide row', async (g) => {
    for (const [rows, cols] of [[1, 1], [3, 17], [2, 129], [5, 1000], [1, 70001], [70, 33]]) {
      const x = uniform(rand, rows * cols, -20, 20);
      for (let i = 0; i < x.length; i += 7) x[i] = -Infinity; // causal-mask style holes
      if (cols === 1) x[0] = 0.25;
      const label = `[${rows},${cols}]`;
      await agree(g, `softmax ${label}`, [f32(x)], (b, [t]) => b.run(routines.softmax, t, rows, cols, false), { atol: 1e-7, rtol: 2e-5 });
      await agree(g, `logSoftmax ${label}`, [f32(x)], (b, [t]) => b.run(routines.softmax, t, rows, cols, true), { atol: 2e-5, rtol: 2e-6 });
      await agree(g, `logsumexp ${label}`, [f32(x)], (b, [t]) => b.run(routines.logsumexp, t, rows, cols), { atol: 1e-5, rtol: 2e-6 });
    }
    const masked = [-Infinity, -Infinity, -Infinity, 1, 2, 3];
    await agree(g, 'logsumexp all -inf row', [f32(masked)], (b, [t]) => b.run(routines.logsumexp, t, 2, 3), F32);
  });

  gpuIt('fill and upload/read round trips: sizes 0, 1, 3, 129; f32 and i32', async (g) => {
    for (const n of [0, 1, 3, 129]) {
      for (const [v, dt] of [[0, 'f32'], [1.5, 'f32'], [-Infinity, 'f32'], [7, 'i32'], [-3, 'i32'], [0, 'i32']] as [number, DType][]) {
        await agree(g, `fill ${v} ${dt} n=${n}`, [], (b) => b.fill(n, v, dt), EXACT);
      }
      await agree(g, `upload/read f32 n=${n}`, [f32(uniform(rand, n))], (_b, [x]) => x, EXACT);
      await agree(g, `upload/read i32 n=${n}`, [i32(ints(rand, n, -(2 ** 31), 2 ** 31 - 1))], (_b, [x]) => x, EXACT);
    }
  });
});

describe('webgpu backend machinery', () => {
  gpuIt('uploads into a buffer that pending work uses land in order (staged copy)', async (g) => {
    // a's buffer goes back to the pool while the dispatch reading it is still unsubmitted; the
    // next upload of the same size gets that buffer and must not overwrite what the dispatch reads.
    const before = g.counters.uploadsStaged;
    const a = g.upload([1, 2, 3, 4], 'f32');
    const doubled = binary(g, 'add', view(a, 0, [1]), view(a, 0, [1]), [4]);
    g.free(a);
    const b = g.upload([10, 20, 30, 40], 'f32');
    const plus = binary(g, 'add', view(b, 0, [1]), view(doubled, 0, [1]), [4]);
    expect(Array.from(await g.read(doubled))).toEqual([2, 4, 6, 8]);
    expect(Array.from(await g.read(plus))).toEqual([12, 24, 36, 48]);
    expect(g.counters.uploadsStaged).toBeGreaterThan(before);
    for (const s of [doubled, b, plus]) g.free(s);
  });

  gpuIt('many dispatches share one submit; a long chain flushes every 512 commands', async (g) => {
    const s0 = g.counters.submits;
    let x = g.upload([1], 'f32');
    for (let i = 0; i < 100; i++) {
      const y = unary(g, 'neg', x);
      g.free(x);
      x = y;
    }
    expect(g.counters.submits).toBe(s0);
    expect(Array.from(await g.read(x))).toEqual([1]);
    expect(g.counters.submits).toBe(s0 + 1);
    for (let i = 0; i < 1100; i++) {
      const y = unary(g, 'neg', x);
      g.free(x);
      x = y;
    }
    expect(g.counters.submits - (s0 + 1)).toBe(2);
    expect(Array.from(await g.read(x))).toEqual([1]);
    g.free(x);
  });

  gpuIt('buffer pool: an alloc/free loop keeps live buffers flat and reuses pooled ones', async (g) => {
    await g.sync();
    const start = g.memoryStats();
    const w = g.upload(uniform(rng(SEED), 1000), 'f32');
    let peakPooled = 0;
    for (let step = 0; step < 50; step++) {
      const h = unary(g, 'tanh', w);
      const s = g.reduce('sum', h, 1, 1000, 1);
      const m = binary(g, 'mul', view(h, 0, [1]), view(s, 0, [0]), [1000]);
      for (const t of [h, s, m]) g.free(t);
      const st = g.memoryStats();
      expect(st.liveBuffers).toBe(start.liveBuffers + 1);
      if (step > 0) expect(st.pooledBuffers).toBe(peakPooled); // steady state: nothing new is created
      peakPooled = st.pooledBuffers;
    }
    g.free(w);
    const end = g.memoryStats();
    expect(end.liveBuffers).toBe(start.liveBuffers);
    expect(end.liveBytes).toBe(start.liveBytes);
    expect(end.pooledBytes).toBeGreaterThan(0);
    // Size 0 still gets a real (minimal) buffer.
    const z = g.fill(0, 1, 'f32');
    expect(g.memoryStats().liveBuffers).toBe(start.liveBuffers + 1);
    expect((await g.read(z)).length).toBe(0);
    g.free(z);
  });

  gpuIt('bad input gets errors naming the op, field and shapes', async (g) => {
    const x = g.upload([1, 2, 3, 4, 5, 6], 'f32');
    const k = g.upload([0, 1], 'i32');
    expect(() => g.reduce('sum', x, 2, 2, 2)).toThrow(/reduce sum: x holds 6 elements but \[outer, r, inner\] = \[2, 2, 2\]/);
    expect(() => binary(g, 'add', view(x, 0, [1]), view(k, 0, [1]), [2], 'f32')).toThrow(/elementwise: input 1 is i32 but the program reads f32/);
    expect(() => g.copy(view(x, 4, [1]), [3])).toThrow(/copy: s \(offset 4, strides \[1\]\) over shape \[3\] reaches elements 4\.\.6, but its storage holds 6/);
    expect(() => g.copy(view(x, 0, [1]), [2, 3])).toThrow(/copy: s has 1 strides \[1\] but the shape \[2, 3\] has 2 dims/);
    expect(() => g.gather(x, x, 3, 2)).toThrow(/gather: idx must be i32, got f32/);
    expect(() => g.matmul(k, k, { batch: 1, m: 1, n: 1, k: 1, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }))
      .toThrow(/matmul: f32 only/);
    expect(() => g.matmul(x, x, { batch: 1, m: 2, n: 3, k: 4, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }))
      .toThrow(/matmul: .*needs a ≥ 8 and b ≥ 12 elements, got 6 and 6/);
    expect(() => g.upload([1], 'f16' as never)).toThrow(/upload: dtype f16 is not supported \(f32 and i32 are\)/);
    g.free(k);
    expect(() => unary(g, 'exp', k)).toThrow(/elementwise: input 0 was already freed/);
    expect(() => g.free(k)).toThrow(/free: storage was already freed/);
    expect(() => unary(g, 'exp', cpu.upload([1], 'f32'))).toThrow(/belongs to another backend \(cpu\)/);
    g.free(x);
    await expect(createWebGPUBackend({ precision: 'f64' })).rejects.toThrow(/f64.*use the cpu backend/);
  });

  gpuIt('a backend that cannot start says why and what to install', async () => {
    // Dawn with an adapter name that matches nothing: the same path as a machine without a driver.
    const err = await createWebGPUBackend({ dawnFlags: ['adapter=no-such-adapter'] }).then(
      (b) => { b.destroy(); return null; }, (e: Error) => e);
    expect(err).toBeInstanceOf(WebGPUUnavailableError);
    expect(err!.message).toMatch(/webgpu backend: (requestAdapter failed|no GPU adapter) .*apt install libvulkan1 chromium/s);
  });
});
