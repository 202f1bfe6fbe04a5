// wgrad bench: run the benchmark suites (bench/run.ts) into a versioned JSON result file, and
// compare result files (bench/compare.ts, bench/html.ts).
import { log, parse, UsageError } from '../args.ts';

export const benchHelp = `wgrad bench [--suite kernels|training|generation|all] [--quick] [--out results.json] [--backend webgpu|cpu|auto]
wgrad bench compare a.json b.json ... [--baseline N|LABEL] [--html report.html]
  --suite NAME     kernels: matmul (f32) at several sizes, copy/add/sum bandwidth, softmax, cross-entropy,
                     attention forward and forward+backward, LoRA linear, AdamW
                   training: a LoRA SFT step on SmolLM2-135M, Qwen2.5-0.5B and TinyLlama-1.1B shapes
                   generation: greedy generation, batch 1 and 16, on the same shapes
                   all: every suite (default: kernels)
  --quick          tiny sizes (seconds on a CPU or a software GPU)
  --out FILE       write the results (schema wgrad-bench v1, bench/schema.ts)
  --backend NAME   webgpu (GPU timestamps where the adapter has them), cpu, or auto (default)
  --label TEXT     the name reports show for this file
  --only A,B       only workloads whose id contains A or B
  --no-check       skip the correctness checks against the cpu backend (float64)
compare: a table in the terminal, ratios to the baseline (default: the first file), the measured
  roofline of each file; --html also writes a page with charts.`;

const SUITE_NAMES = ['kernels', 'training', 'generation'] as const;

export async function benchCommand(argv: string[]): Promise<void> {
  if (argv[0] === 'compare') return compareCommand(argv.slice(1));
  const { values, positionals } = parse('bench', argv, {
    suite: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' }, backend: { type: 'string' },
    label: { type: 'string' }, only: { type: 'string' }, 'no-check': { type: 'boolean' },
  });
  if (values.help) { console.log(benchHelp); return; }
  if (positionals.length) throw new UsageError(`wgrad bench: unexpected argument "${positionals[0]}" (did you mean \`wgrad bench compare\`?)\n${benchHelp}`);
  const suite = values.suite ?? 'kernels';
  if (suite !== 'all' && !(SUITE_NAMES as readonly string[]).includes(suite)) {
    throw new UsageError(`wgrad bench: unknown suite "${suite}" (expected one of ${[...SUITE_NAMES, 'all'].join(', ')})`);
  }
  const backendName = values.backend ?? 'auto';
  if (!['webgpu', 'cpu', 'auto'].includes(backendName)) throw new UsageError(`wgrad bench: --backend expects webgpu, cpu or auto, got "${backendName}"`);
  const { createBackend } = await import('../../engine/index.ts');
  const { runBench, benchFailures } = await import('../../bench/run.ts');
  const { writeBenchFile } = await import('../../bench/files.ts');
  const backend = await createBackend({ backend: backendName as 'webgpu' | 'cpu' | 'auto', timestampQuery: true });
  try {
    const file = await runBench({
      suites: suite === 'all' ? [...SUITE_NAMES] : [suite as (typeof SUITE_NAMES)[number]],
      mode: values.quick ? 'quick' : 'full', backend, label: values.label,
      only: values.only?.split(',').filter(Boolean), noCheck: values['no-check'], log,
    });
    if (values.out) {
      writeBenchFile(values.out, file);
      log(`wrote ${values.out}`);
    }
    const failures = benchFailures(file);
    if (failures.length) throw new Error(`${failures.length} workload(s) failed:\n  ${failures.join('\n  ')}`);
  } finally {
    backend.destroy();
  }
}

async function compareCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse('bench compare', argv, { baseline: { type: 'string' }, html: { type: 'string' }, title: { type: 'string' } });
  if (values.help) { console.log(benchHelp); return; }
  if (positionals.length === 0) throw new UsageError(`wgrad bench compare: give one or more result files\n${benchHelp}`);
  const { readBenchFile, writeText } = await import('../../bench/files.ts');
  const { compareFiles, renderCompareTable } = await import('../../bench/compare.ts');
  const files = positionals.map((p) => readBenchFile(p));
  const b = values.baseline;
  const baseline = b === undefined ? 0 : /^\d+$/.test(b) ? Number(b) - 1 : b; // 1-based on the command line, as the table numbers files
  const c = compareFiles(files, baseline);
  console.log(renderCompareTable(c));
  if (values.html) {
    const { renderCompareHtml } = await import('../../bench/html.ts');
    writeText(values.html, renderCompareHtml(c, { title: values.title }));
    log(`wrote ${values.html}`);
  }
}
