// wgrad bench: the benchmark suites (bench/), results as JSON.
import { log, parse, UsageError } from '../args.ts';

export const benchHelp = `wgrad bench --suite kernels|generation|all [--quick] [--out results.json]
  --suite NAME   kernels: matmul, elementwise and reduction bandwidth
                 generation: tokens/s at batch 1 and 16 on a SmolLM2-135M-shaped model
  --quick        tiny sizes (seconds on a CPU or software GPU)
  --out FILE     write the results as JSON (for the generation suite: FILE with -generation)
  --backend NAME cpu | webgpu | auto (generation suite)`;

export async function benchCommand(argv: string[]): Promise<void> {
  const { values } = parse('bench', argv, {
    suite: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' }, backend: { type: 'string' },
  });
  if (values.help) { console.log(benchHelp); return; }
  const suite = values.suite ?? 'kernels';
  const suites = ['kernels', 'generation', 'all'];
  if (!suites.includes(suite)) throw new UsageError(`wgrad bench: unknown suite "${suite}" (expected one of ${suites.join(', ')})`);
  if (suite === 'kernels' || suite === 'all') {
    const { runKernelBench } = await import('../../bench/kernels.ts');
    await runKernelBench({ quick: !!values.quick, out: values.out });
  }
  if (suite === 'generation' || suite === 'all') {
    const { runGenerationBench } = await import('../../bench/generation.ts');
    const out = values.out && suite === 'all' ? values.out.replace(/(\.json)?$/, '-generation.json') : values.out;
    await runGenerationBench({ quick: !!values.quick, out, backend: values.backend });
  }
  log('wgrad bench: done');
}
