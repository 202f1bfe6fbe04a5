// Where a training step's GPU time goes, kernel by kernel: every dispatch of one step timed on its
// own (backends/webgpu/profiler.ts), summed per kernel key and per kernel family, beside the wall
// time of the same step unprofiled. Steps are the training suite's workloads (bench/suites.ts).
//   here:  npx esbuild bench/tuning/step-profile.ts --bundle --platform=node --format=esm \
//            --outfile=dist/step-profile.js --external:webgpu
//   there: source .gpu/remote-env.sh; node dist/step-profile.js [--quick] [--only ID] [--json FILE]
import { writeFileSync } from 'node:fs';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { byKernel } from '../../backends/webgpu/profiler.ts';
import { SUITE_REGISTRY } from '../suites.ts';

const arg = (name: string) => { const i = process.argv.indexOf(name); return i < 0 ? undefined : process.argv[i + 1]; };
const quick = process.argv.includes('--quick');
const only = arg('--only') ?? 'lora_sft_step_smollm2';
const json = arg('--json');

const backend = await createWebGPUBackend({ timestampQuery: true });
console.log(backend.description);
const report: Record<string, unknown>[] = [];
for (const w of SUITE_REGISTRY.training.workloads(quick ? 'quick' : 'full').filter((w) => only.split(',').some((o) => w.id.includes(o)))) {
  const inst = await w.build(backend);
  for (let i = 0; i < 2; i++) await inst.step(); // pipelines compile, pool fills
  await backend.sync();
  const t0 = performance.now();
  await inst.step();
  await backend.sync();
  const wallMs = performance.now() - t0;
  const d0 = backend.counters.dispatches;
  const times = await backend.profileDispatches(() => inst.step());
  const gpuMs = times.reduce((s, t) => s + t.ms, 0);
  console.log(`\n${w.id}: wall ${wallMs.toFixed(1)} ms unprofiled; ${backend.counters.dispatches - d0} dispatches, ` +
    `Σ dispatch GPU time ${gpuMs.toFixed(1)} ms (profiled)`);
  const families = byKernel(times, 'family'), keys = byKernel(times, 'key');
  const line = (k: { kernel: string; dispatches: number; ms: number }) =>
    `  ${k.ms.toFixed(2).padStart(9)} ms ${(100 * k.ms / gpuMs).toFixed(1).padStart(5)}% ${String(k.dispatches).padStart(5)}×  ${k.kernel}`;
  console.log(' by family:');
  for (const k of families) console.log(line(k));
  console.log(' top kernels:');
  for (const k of keys.slice(0, 30)) console.log(line(k));
  report.push({ id: w.id, wallMs, gpuMs, dispatches: times.length, families, keys });
  inst.dispose();
}
if (json) writeFileSync(json, JSON.stringify({ device: backend.description, report }, null, 1));
backend.destroy();
