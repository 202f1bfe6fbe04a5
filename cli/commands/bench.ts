// wgrad bench: run the benchmark suites (bench/run.ts) into a versioned JSON result file, and
// compare result files (bench/compare.ts, bench/html.ts).
import { choice, log, type CommandSpec } from '../args.ts';
import { openBackend } from '../backend.ts';
import { BACKENDS } from '../options.ts';

const SUITE_NAMES = ['kernels', 'training', 'generation'] as const;

const compareSpec: CommandSpec = {
  name: 'compare',
  summary: 'compare result files: a table, ratios to the baseline, the measured roofline; --html also writes a page with charts',
  args: ['<files...>'],
  flags: [
    { flags: '--baseline <n|label>', help: 'the file the ratios are to: its 1-based number or label (default: the first)' },
    { flags: '--html <file>', help: 'also write a self-contained HTML report with charts' },
    { flags: '--title <text>', help: 'the report\'s title' },
  ],
  run: async (o, [files]) => {
    const { readBenchFile, writeText } = await import('../../bench/files.ts');
    const { compareFiles, renderCompareTable } = await import('../../bench/compare.ts');
    const results = (files as string[]).map((p) => readBenchFile(p));
    const b = o.baseline as string | undefined;
    const baseline = b === undefined ? 0 : /^\d+$/.test(b) ? Number(b) - 1 : b; // 1-based on the command line, as the table numbers files
    const c = compareFiles(results, baseline);
    console.log(renderCompareTable(c));
    if (o.html) {
      const { renderCompareHtml } = await import('../../bench/html.ts');
      writeText(o.html as string, renderCompareHtml(c, { title: o.title as string | undefined }));
      log(`wrote ${o.html}`);
    }
  },
};

export const benchSpec: CommandSpec = {
  name: 'bench',
  summary: 'run the benchmark suites into a JSON result file (wgrad bench compare: compare files)',
  flags: [
    { flags: '--suite <name>', help: 'kernels: matmul, bandwidth, softmax, cross-entropy, attention, LoRA linear, AdamW; training: LoRA SFT steps on ' +
      'SmolLM2-135M, Qwen2.5-0.5B and TinyLlama-1.1B shapes; generation: greedy, batch 1 and 16; all', default: 'kernels', parse: choice([...SUITE_NAMES, 'all'] as const) },
    { flags: '--quick', help: 'tiny sizes (seconds on a CPU or a software GPU)' },
    { flags: '--out <file>', help: 'write the results (schema wgrad-bench v1, bench/schema.ts)' },
    { flags: '--backend <name>', help: 'webgpu (GPU timestamps where the adapter has them), cpu, or auto', default: 'auto', parse: choice(BACKENDS) },
    { flags: '--label <text>', help: 'the name reports show for this file' },
    { flags: '--only <a,b>', help: 'only workloads whose id contains A or B' },
    { flags: '--no-check', help: 'skip the correctness checks against the cpu backend (float64)' },
  ],
  subcommands: [compareSpec],
  run: async (o) => {
    const { runBench, benchFailures } = await import('../../bench/run.ts');
    const { writeBenchFile } = await import('../../bench/files.ts');
    const backend = await openBackend(o, { timestampQuery: true });
    try {
      const suite = o.suite as string;
      const file = await runBench({
        suites: suite === 'all' ? [...SUITE_NAMES] : [suite as (typeof SUITE_NAMES)[number]],
        mode: o.quick ? 'quick' : 'full', backend, label: o.label as string | undefined,
        only: (o.only as string | undefined)?.split(',').filter(Boolean), noCheck: o.check === false, log,
        progress: o.out ? (partial) => writeBenchFile(o.out as string, partial) : undefined,
      });
      if (o.out) {
        writeBenchFile(o.out as string, file);
        log(`wrote ${o.out}`);
      }
      const failures = benchFailures(file);
      if (failures.length) throw new Error(`${failures.length} workload(s) failed:\n  ${failures.join('\n  ')}`);
    } finally {
      backend.destroy();
    }
  },
};
