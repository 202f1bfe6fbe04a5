// The matrix-unit matmul (kernels/matmul-mma.ts, matmulPrecision 'f16') against the f32 kernels on
// the same device: correctness first, then speed.
//   check: inputs rounded to f16 on the host make the f16 product exact up to f32 summation order,
//          so the MMA result must match the f32 kernel's on those inputs to ~1e-5 relative — any
//          staging or layout slip shows up as O(1) errors; on raw inputs the error is f16 rounding.
//   speed: wall-clock over back-to-back dispatches until the GPU is done, TFLOP/s both ways.
//   here:  npx esbuild bench/tuning/matmul-mma.ts --bundle --platform=node --format=esm \
//            --outfile=dist/matmul-mma.js --external:webgpu
//   there: source .gpu/remote-env.sh; node dist/matmul-mma.js [--quick]
import type { Backend, MatmulParams } from '../../backends/backend.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { MMA_PRESETS, mmaKernel, roundToF16, type MmaConfig } from '../../kernels/matmul-mma.ts';
import { matmulDispatch, matmulUniform } from '../../kernels/matmul.ts';

const quick = process.argv.includes('--quick');
/** --sweep: only the tile sweep (shapes below, fewer of them), for a short device call. */
const sweepOnly = process.argv.includes('--sweep');
const f32 = await createWebGPUBackend({ matmulPrecision: 'f32' });
const f16 = await createWebGPUBackend({ matmulPrecision: 'f16' });
console.log(`${f16.description}: matmul f16 (subgroup matrices) vs f32`);

let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;

function params(m: number, n: number, k: number, transA: boolean, transB: boolean, batch = 1): MatmulParams {
  return { batch, m, n, k, transA, transB, aBatchStride: batch > 1 ? m * k : 0, bBatchStride: batch > 1 ? k * n : 0 };
}

async function product(be: Backend, a: Float32Array, b: Float32Array, p: MatmulParams): Promise<Float32Array> {
  const sa = be.upload(a, 'f32'), sb = be.upload(b, 'f32');
  const c = be.matmul(sa, sb, p);
  const out = (await be.read(c)) as Float32Array;
  [sa, sb, c].forEach((s) => be.free(s));
  return out;
}

function relErr(x: Float32Array, ref: Float32Array): number {
  let d = 0, r = 0;
  for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i] - ref[i])); r = Math.max(r, Math.abs(ref[i])); }
  return d / r;
}

let failures = 0;
const checks: [number, number, number, boolean, boolean, number][] = [
  [64, 64, 32, false, false, 1], [128, 128, 64, false, true, 1], [128, 128, 64, true, false, 1], [96, 80, 36, true, true, 1],
  [256, 576, 576, false, true, 1], [576, 1536, 4096, true, false, 1], [160, 48, 100, false, false, 3], [4096, 576, 1536, false, false, 1],
  // sides that are not multiples of 16 or of the tile (edge tiles through workgroup memory): T−1 = 511 positions × 8
  [4088, 576, 576, false, true, 1], [4088, 1000, 64, false, true, 1], [50, 36, 64, false, false, 1], [36, 52, 40, true, false, 2],
];
for (const [m, n, k, ta, tb, batch] of sweepOnly ? [] : checks) {
  const p = params(m, n, k, ta, tb, batch);
  const a = Float32Array.from({ length: batch * m * k }, rand), b = Float32Array.from({ length: batch * k * n }, rand);
  const ah = a.map(roundToF16), bh = b.map(roundToF16);
  const exact = relErr(await product(f16, ah, bh, p), await product(f32, ah, bh, p));
  const raw = relErr(await product(f16, a, b, p), await product(f32, a, b, p));
  const ok = exact < 1e-5 && raw < 5e-3;
  if (!ok) failures++;
  console.log(`check ${batch}×[${m},${k}]·[${k},${n}] transA ${ta} transB ${tb}: f16-exact inputs ${exact.toExponential(2)}, raw ${raw.toExponential(2)} ${ok ? 'ok' : 'FAIL'}`);
}

/** Time `run` (one product) back to back until 200 ms pass; ms per product. */
async function timeRuns(be: Backend, run: () => void): Promise<number> {
  run();
  await be.sync();
  let reps = 1, ms = 0;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    await be.sync();
    ms = (performance.now() - t0) / reps;
    if (ms * reps > 200 || reps >= 256) return ms;
    reps *= 4;
  }
}

async function time(be: Backend, p: MatmulParams): Promise<number> {
  const sa = be.upload(Float32Array.from({ length: p.batch * p.m * p.k }, rand), 'f32');
  const sb = be.upload(Float32Array.from({ length: p.batch * p.k * p.n }, rand), 'f32');
  be.free(be.matmul(sa, sb, p));
  await be.sync();
  let reps = 1, ms = 0;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) be.free(be.matmul(sa, sb, p));
    await be.sync();
    ms = (performance.now() - t0) / reps;
    if (ms * reps > 200 || reps >= 256) break;
    reps *= 4;
  }
  be.free(sa); be.free(sb);
  return ms;
}

const shapes: [string, number, number, number, boolean, boolean][] = quick ? [['256³', 256, 256, 256, false, false]] : [
  ['4096³ nn', 4096, 4096, 4096, false, false], ['4096³ nt', 4096, 4096, 4096, false, true], ['4096³ tn', 4096, 4096, 4096, true, false],
  ['8192³ nn', 8192, 8192, 8192, false, false],
  ['SmolLM2 q_proj fwd [4096,576]·[576,576]ᵀ', 4096, 576, 576, false, true],
  ['SmolLM2 up fwd [4096,576]·[1536,576]ᵀ', 4096, 1536, 576, false, true],
  ['SmolLM2 down dX [4096,576]·[576,1536]', 4096, 1536, 576, false, false],
  ['SmolLM2 lm_head fwd [4088,576]·[49152,576]ᵀ', 4088, 49152, 576, false, true],
  ['SmolLM2 lm_head dX [4088,49152]·[49152,576]', 4088, 576, 49152, false, false],
];
for (const [name, m, n, k, ta, tb] of sweepOnly ? [] : shapes) {
  const p = params(m, n, k, ta, tb);
  const t32 = await time(f32, p), t16 = await time(f16, p), fl = 2 * m * n * k / 1e9;
  console.log(`${name}: f32 ${t32.toFixed(3)} ms (${(fl / t32).toFixed(1)} TFLOP/s), f16-mma ${t16.toFixed(3)} ms (${(fl / t16).toFixed(1)} TFLOP/s), ${(t32 / t16).toFixed(2)}×`);
}
// The tile sweep: each configuration on the same shapes, dispatched directly (one product, no batch).
const configs: MmaConfig[] = quick ? [MMA_PRESETS.medium] : [
  MMA_PRESETS.big, { tileM: 128, tileN: 128, BK: 64, sgM: 2, sgN: 4 }, { tileM: 128, tileN: 128, BK: 32, sgM: 4, sgN: 2 },
  { tileM: 128, tileN: 128, BK: 32, sgM: 2, sgN: 2 }, { tileM: 128, tileN: 64, BK: 32, sgM: 2, sgN: 2 }, { tileM: 64, tileN: 128, BK: 32, sgM: 2, sgN: 2 },
  MMA_PRESETS.medium, { tileM: 64, tileN: 64, BK: 64, sgM: 2, sgN: 2 }, { tileM: 64, tileN: 64, BK: 32, sgM: 1, sgN: 2 },
  { tileM: 256, tileN: 128, BK: 32, sgM: 4, sgN: 2 }, { tileM: 128, tileN: 256, BK: 32, sgM: 2, sgN: 4 },
];
for (const [name, m, n, k, ta, tb] of sweepOnly ? shapes.filter((x) => !x[0].startsWith('8192') && !x[0].includes('q_proj') && !x[0].includes('up fwd') && !x[0].includes('lm_head dX')) : shapes) {
  const sa = f16.upload(Float32Array.from({ length: m * k }, rand), 'f32'), sb = f16.upload(Float32Array.from({ length: k * n }, rand), 'f32');
  const sc = f16.upload(new Float32Array(m * n), 'f32');
  const row: string[] = [];
  for (const c of configs) {
    const kern = mmaKernel(c, ta, tb);
    const u = matmulUniform({ m, n, k, aBatchStride: 0, bBatchStride: 0, batchOffset: 0 });
    const bind = [f16.bind('sweep', 'a', sa), f16.bind('sweep', 'b', sb), f16.bind('sweep', 'c', sc)];
    const ms = await timeRuns(f16, () => f16.dispatch('matmul', kern, bind, u, matmulDispatch(kern, m, n, 1)));
    row.push(`${kern.key.slice(7)} ${(2 * m * n * k / 1e9 / ms).toFixed(0)}`);
  }
  console.log(`sweep ${name} (TFLOP/s): ${row.join(', ')}`);
  [sa, sb, sc].forEach((x) => f16.free(x));
}
f32.destroy(); f16.destroy();
if (failures) { console.log(`${failures} check(s) FAILED`); process.exitCode = 1; }
