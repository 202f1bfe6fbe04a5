// Matmul precision 'f16' (f16 operands, f32 sums: kernels/matmul-mma.ts on GPUs with subgroup
// matrices; the cpu backend emulates it) against f32:
//   - the cpu emulation is exact on operands that are already f16, and rounds the others;
//   - 12 LoRA SFT steps on stories260K follow the f32 loss curve within the tolerance stated below.
import { describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import type { Backend, MatmulParams } from '../../backends/backend.ts';
import { chooseMmaKernel, roundToF16 } from '../../kernels/matmul-mma.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { loadTokenizer } from '../../llm/tokenizers/load.ts';
import { runTraining, type TrainSettings } from '../../llm/train/run.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';
import { rng, uniform } from '../backends/compare.ts';

const MODEL = 'models/stories260K-hf';
const DATA = 'data/torchtune/alpaca_tiny.json';

describe('matmul precision f16 on the cpu backend (the emulation of the matrix units)', () => {
  it('rounds each operand to f16 and sums exactly: equal to f32 on f16 inputs, off by f16 rounding on others', async () => {
    const f32 = createCpuBackend(), f16 = createCpuBackend({ matmulPrecision: 'f16' });
    const rand = rng(5);
    const p: MatmulParams = { batch: 2, m: 7, n: 9, k: 33, transA: true, transB: false, aBatchStride: 7 * 33, bBatchStride: 33 * 9 };
    const a = uniform(rand, 2 * 7 * 33), b = uniform(rand, 2 * 33 * 9);
    const run = async (be: Backend, x: ArrayLike<number>, y: ArrayLike<number>) => be.read(be.matmul(be.upload(x, 'f32'), be.upload(y, 'f32'), p));
    const ah = Array.from(a, roundToF16), bh = Array.from(b, roundToF16);
    expect(await run(f16, ah, bh)).toEqual(await run(f32, ah, bh));
    const raw = await run(f16, a, b), exact = await run(f32, a, b);
    const err = Math.max(...raw.map((v, i) => Math.abs(v - exact[i])));
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(33 * 2 ** -10); // k terms, each off by at most ~2·2⁻¹¹ of |a||b| ≤ 1
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // ties to even
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToF16(65519)).toBe(65504);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(2 ** -25)).toBe(0); // half the smallest subnormal rounds to even (0)
    expect(roundToF16(3 * 2 ** -26)).toBe(2 ** -24);
    expect(() => createCpuBackend({ matmulPrecision: 'bf16' as 'f16' })).toThrow(/cpu backend: matmul precision 'bf16' .* must be 'f32' or 'f16'/);
  });

  it('the tensor-core kernel fits the device\'s workgroup memory: big tiles only where the limit allows', () => {
    for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      const big = chooseMmaKernel(4096, 4096, 1, transA, transB, 49152), dflt = chooseMmaKernel(4096, 4096, 1, transA, transB);
      expect(big.tileM).toBe(128);
      expect(big.workgroupStorageBytes).toBeLessThanOrEqual(49152);
      expect(dflt.tileM).toBe(64); // WebGPU's default 16 KiB
      expect(dflt.workgroupStorageBytes).toBeLessThanOrEqual(16384);
      expect(chooseMmaKernel(256, 256, 1, transA, transB, 49152).tileM).toBe(64); // too few 128-tiles to fill a GPU
    }
  });

  const settings: TrainSettings = {
    data: asset(DATA), maxSteps: 12, batchSize: 2, gradAccum: 1, learningRate: 3e-3, schedule: 'cosine', warmupSteps: 2,
    seed: 3, maxLength: 160, lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
  };
  const losses = async (backend: Backend) => {
    const tok = await loadTokenizer(asset(`${MODEL}/tokenizer.json`));
    const { model } = await loadLlama(asset(MODEL), { backend });
    const r = await runTraining(model, tok, settings);
    model.dispose();
    return r.records.map((x) => x.loss);
  };

  it.skipIf(!haveAssets(MODEL, DATA))('LoRA SFT on stories260K: the f16 loss curve stays within 0.1% of f32 at every step (measured: ~1e-4)', async () => {
    const want = await losses(createCpuBackend()), got = await losses(createCpuBackend({ matmulPrecision: 'f16' }));
    expect(got).toHaveLength(12);
    const rel = got.map((l, i) => Math.abs(l - want[i]) / want[i]);
    console.log(`f32 ${want[0].toFixed(4)} → ${want[11].toFixed(4)}, f16 ${got[0].toFixed(4)} → ${got[11].toFixed(4)}; max relative Δloss ${Math.max(...rel).toExponential(2)}`);
    expect(got).not.toEqual(want); // the rounding is real
    expect(Math.max(...rel)).toBeLessThan(1e-3);
  }, 180_000);
});
