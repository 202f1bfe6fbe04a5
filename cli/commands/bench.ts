// wgrad bench: the benchmark suites (bench/), results as JSON.
import { log, parse, UsageError } from '../args.ts';

export const benchHelp = `wgrad bench --suite kernels|generation|training|all [--quick] [--out results.json]
  --suite NAME   kernels: matmul, elementwise and reduction bandwidth
                 generation: tokens/s at batch 1 and 16 on a SmolLM2-135M-shaped model
                 training: LoRA SFT steps (8 × 512 tokens, r 16 on q/k/v/o, AdamW) on that model
  --quick        tiny sizes (seconds on a CPU or software GPU)
  --out FILE     write the results as JSON (with --suite all: FILE with -generation / -training)
  --backend NAME cpu | webgpu | auto (generation and training suites)`;

export async function benchCommand(argv: string[]): Promise<void> {
  const { values } = parse('bench', argv, {
    suite: { type: 'string' }, quick: { type: 'boolean' }, out: { type: 'string' }, backend: { type: 'string' },
  });
  if (values.help) { console.log(benchHelp); return; }
  const suite = values.suite ?? 'kernels';
  const suites = ['kernels', 'generation', 'training', 'all'];
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
  if (suite === 'training' || suite === 'all') {
    const { runTrainingBench } = await import('../../bench/training.ts');
    const out = values.out && suite === 'all' ? values.out.replace(/(\.json)?$/, '-training.json') : values.out;
    await runTrainingBench({ quick: !!values.quick, out, backend: values.backend });
  }
  log('wgrad bench: done');
}
