// Matmul tuning harness (raw WebGPU, kernels/matmul.ts configurations; bench/NOTES.md). Not the product
// benchmark: `wgrad bench` (bench/run.ts) writes the versioned schema of bench/schema.ts.
// `wgrad bench --suite kernels`: matmul (1024/2048/4096, f32, and the transposes training uses),
// elementwise add and full sum bandwidth, and copies (copyBufferToBuffer and the backend's copy kernel).
// Prints GFLOP/s and GB/s with the adapter's name; writes JSON (bench/report.ts) with --out.
// The PyTorch counterpart is bench/tuning/torch_kernels.py (same workloads, same JSON shape).

import type { MatmulConfig } from '../../kernels/matmul.ts';
import { openGpu, type GpuContext } from './gpu.ts';
import type { MatmulProblem } from './matmul-run.ts';
import { renderTable, type KernelBenchReport, type KernelBenchRow } from './report.ts';
import { benchAdd, benchCopy, benchCopyKernel, benchMatmul, benchSum, type TimingOptions } from './workloads.ts';

export interface KernelBenchOptions {
  /** Tiny sizes that run in seconds on a software GPU (SwiftShader). */
  quick?: boolean;
  /** Write the JSON report here (Node/Deno). */
  out?: string;
  /** Also time alternative matmul configurations (the experiments behind bench/NOTES.md). */
  variants?: boolean;
  /** Dawn toggles for the device (Node only), e.g. ['disable_robustness']. */
  toggles?: string[];
  /** Override the square matmul sizes, and the element count of add/sum/copy. */
  sizes?: number[];
  elements?: number;
  /** Use this device instead of opening one (it is not closed). */
  ctx?: GpuContext;
  log?: (line: string) => void;
}

const square = (s: number, transA = false, transB = false): MatmulProblem =>
  ({ batch: 1, m: s, n: s, k: s, transA, transB, aBatchStride: 0, bBatchStride: 0 });

/**
 * Configurations compared by --variants (bench/NOTES.md has the predictions and results): each at
 * every benchmark size for A·B; those marked `transposes` also for A·Bᵀ and Aᵀ·B at the largest size.
 */
export const MATMUL_VARIANTS: { label: string; config: Partial<MatmulConfig>; transposes?: boolean }[] = [];
const v = (label: string, config: Partial<MatmulConfig>, transposes = false) => MATMUL_VARIANTS.push({ label, config, transposes });
const big = { tileM: 128, tileN: 128, TM: 8, TN: 8, pad: false, rowStage: false };
const mid = { tileM: 64, tileN: 64, TM: 8, TN: 8, pad: false, rowStage: false };
v('big-bk16-sb', { ...big, BK: 16, doubleBuffer: false }, true);
v('big-bk16-sb-rows', { ...big, BK: 16, doubleBuffer: false, rowStage: true }, true);
v('big-bk16-sb-pad', { ...big, BK: 16, doubleBuffer: false, pad: true });
v('big-bk8-db', { ...big, BK: 8, doubleBuffer: true }, true);
v('big-bk8-db-rows', { ...big, BK: 8, doubleBuffer: true, rowStage: true }, true);
v('big-bk16-db', { ...big, BK: 16, doubleBuffer: true });
v('big-bk32-sb', { ...big, BK: 32, doubleBuffer: false });
v('big-bk32-sb-rows', { ...big, BK: 32, doubleBuffer: false, rowStage: true }, true);
v('big-bk16-sb-scalar', { ...big, BK: 16, doubleBuffer: false, vec4: false, checked: true });
v('64x64-8x8-bk16-db', { ...mid, BK: 16, doubleBuffer: true }, true);
v('64x64-8x8-bk16-db-rows', { ...mid, BK: 16, doubleBuffer: true, rowStage: true }, true);
v('64x64-8x8-bk16-sb', { ...mid, BK: 16, doubleBuffer: false });
v('64x64-8x8-bk32-sb', { ...mid, BK: 32, doubleBuffer: false });
v('128x64-8x8-bk16-sb', { ...mid, tileM: 128, BK: 16, doubleBuffer: false });
v('64x128-8x8-bk16-sb', { ...mid, tileN: 128, BK: 16, doubleBuffer: false });
v('64x64-4x4-bk16-db', { ...mid, TM: 4, TN: 4, BK: 16, doubleBuffer: true });
// Roughly the first version of kernels/matmul.ts: 64×64, 4×4 per thread, scalar, bounds-checked.
v('first-version-like', { tileM: 64, tileN: 64, BK: 16, TM: 4, TN: 4, doubleBuffer: false, pad: false, rowStage: false, vec4: false, checked: true });

export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<KernelBenchReport> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const quick = opts.quick ?? false;
  const ctx = opts.ctx ?? await openGpu({ enableToggles: opts.toggles, preciseTimestamps: !quick });
  try {
    const t: TimingOptions = quick ? { samples: 5, warmup: 1, targetMs: 5 } : { samples: 15, warmup: 3, targetMs: 20 };
    const sizes = opts.sizes ?? (quick ? [64, 128, 256] : [1024, 2048, 4096]);
    const elements = opts.elements ?? (quick ? 1 << 20 : 64 << 20);
    log(`wgrad kernel bench on ${ctx.adapterName}; timestamps: ${ctx.timestamps}; toggles: ${ctx.toggles.join(',') || 'none'}`);
    const rows: KernelBenchRow[] = [];
    const add = async (f: () => Promise<KernelBenchRow>) => {
      try {
        const r = await f();
        rows.push(r);
        log(`  ${r.name}: ${r.ms.toPrecision(4)} ms, ${r.gflops.toPrecision(4)} GFLOP/s, ${r.gbps.toPrecision(4)} GB/s  [${r.kernel}]` +
          (r.maxRelErr !== undefined ? ` relerr ${r.maxRelErr.toExponential(1)}` : ''));
        if (r.maxRelErr !== undefined && !(r.maxRelErr < 1e-4)) throw new Error(`${r.name}: result check failed (relative error ${r.maxRelErr})`);
      } catch (e) {
        log(`  FAILED: ${(e as Error).message}`);
        rows.push({ name: 'error', op: 'matmul', dtype: 'f32', shape: [], ms: NaN, minMs: NaN, samples: 0, gflops: NaN, gbps: NaN, note: (e as Error).message });
      }
    };
    for (const s of sizes) await add(() => benchMatmul(ctx, square(s), t));
    const big = sizes[sizes.length - 1];
    await add(() => benchMatmul(ctx, square(big, false, true), t)); // x · Wᵀ (nn.Linear forward)
    await add(() => benchMatmul(ctx, square(big, true, false), t)); // Xᵀ · dY (weight gradient)
    await add(() => benchAdd(ctx, elements, t));
    await add(() => benchSum(ctx, elements, t));
    await add(() => benchCopy(ctx, elements, t));
    await add(() => benchCopyKernel(ctx, elements, t));
    if (opts.variants) {
      for (const s of sizes) {
        for (const v of MATMUL_VARIANTS) {
          await add(() => benchMatmul(ctx, square(s), t, { config: v.config, name: `variant_${s}_nn_${v.label}` }));
        }
      }
      for (const [tA, tB] of [[false, true], [true, false]]) {
        for (const v of MATMUL_VARIANTS.filter((x) => x.transposes)) {
          const tr = `${tA ? 't' : 'n'}${tB ? 't' : 'n'}`;
          await add(() => benchMatmul(ctx, square(big, tA, tB), t, { config: v.config, name: `variant_${big}_${tr}_${v.label}` }));
        }
      }
    }
    const timing = [...new Set(rows.filter((r) => r.op !== 'copy' && r.timing).map((r) => r.timing))].join('+') || 'wall-clock';
    const report: KernelBenchReport = {
      suite: 'kernels', engine: 'wgrad-webgpu', device: ctx.adapterName, timing, quick,
      date: new Date().toISOString(), toggles: ctx.toggles, rows,
    };
    log(renderTable(report));
    if (opts.out) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(opts.out, JSON.stringify(report, null, 1) + '\n');
      log(`wrote ${opts.out}`);
    }
    return report;
  } finally {
    if (!opts.ctx) ctx.close();
  }
}
