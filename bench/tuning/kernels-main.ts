// Command-line entry of the kernel benchmark, for running without the wgrad CLI:
//   npx esbuild bench/tuning/kernels-main.ts --bundle --platform=node --format=esm \
//     --outfile=dist/bench-kernels.js --external:webgpu
//   node dist/bench-kernels.js [--quick] [--out FILE] [--variants] [--toggles a,b] [--sizes 1024,4096] [--elements N]
//                              [--compare torch.json]   (ratios against bench/tuning/torch_kernels.py's JSON)
// (On a CPU machine: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.)
import { readFileSync } from 'node:fs';
import { runKernelBench, type KernelBenchOptions } from './kernels.ts';
import { renderComparison, type KernelBenchReport } from './report.ts';

const USAGE = 'usage: bench-kernels [--quick] [--out FILE] [--variants] [--toggles a,b] [--sizes 1024,2048] [--elements N] [--compare REF.json]';

export function parseKernelBenchArgs(argv: string[]): KernelBenchOptions & { compare?: string } {
  const o: KernelBenchOptions & { compare?: string } = {};
  const value = (i: number, flag: string) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`bench-kernels: ${flag} needs a value\n${USAGE}`);
    return v;
  };
  const ints = (s: string, flag: string) => s.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bench-kernels: ${flag} expects positive integers, got '${x}'\n${USAGE}`);
    return n;
  });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--variants') o.variants = true;
    else if (a === '--out') o.out = value(i++, a);
    else if (a === '--toggles') o.toggles = value(i++, a).split(',').filter(Boolean);
    else if (a === '--sizes') o.sizes = ints(value(i++, a), a);
    else if (a === '--elements') [o.elements] = ints(value(i++, a), a);
    else if (a === '--compare') o.compare = value(i++, a);
    else if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    else throw new Error(`bench-kernels: unknown argument '${a}'\n${USAGE}`);
  }
  return o;
}

try {
  const opts = parseKernelBenchArgs(process.argv.slice(2));
  // Read the reference first, so a bad path fails before minutes of benchmarking.
  const ref = opts.compare ? JSON.parse(readFileSync(opts.compare, 'utf8')) as KernelBenchReport : undefined;
  const report = await runKernelBench(opts);
  if (ref) console.log(renderComparison(report, ref));
  process.exitCode = report.rows.some((r) => r.name === 'error') ? 1 : 0;
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 1;
}
