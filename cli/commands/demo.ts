// wgrad demo: the self-contained pipeline in engine/demo (no downloads).
import { createBackend, type BackendChoice } from '../../backends/select.ts';
import { runDemo } from '../../engine/demo/pipeline.ts';
import { log, numberFlag, parse } from '../args.ts';

export const demoHelp = `wgrad demo [--output-dir DIR] [--pretrain-steps N] [--lora-steps N] [--backend NAME]
  builds a small Llama from scratch, teaches it addition, then a question/answer format with LoRA,
  and prints held-out exact-match accuracy before and after each stage (default DIR: demo-output)`;

export async function demoCommand(argv: string[]): Promise<void> {
  const { values } = parse('demo', argv, {
    'output-dir': { type: 'string' }, 'pretrain-steps': { type: 'string' }, 'lora-steps': { type: 'string' }, backend: { type: 'string' },
  });
  if (values.help) { console.log(demoHelp); return; }
  const steps = (k: 'pretrain-steps' | 'lora-steps') =>
    values[k] === undefined ? undefined : numberFlag('demo', k, values[k], 0, 'a positive integer', (n) => Number.isInteger(n) && n > 0);
  const backend = await createBackend({ backend: values.backend as BackendChoice | undefined });
  try {
    log(`wgrad demo on ${backend.description}`);
    const t0 = performance.now();
    await runDemo({
      outputDir: values['output-dir'] ?? 'demo-output', backend, pretrainSteps: steps('pretrain-steps'), loraSteps: steps('lora-steps'),
      log: (s) => console.log(s),
      onStep: (stage, r) => { if (r.step % 50 === 0) log(`  ${stage} step ${r.step}: loss ${r.loss.toFixed(3)} (${r.tokens_per_second.toFixed(0)} tokens/s)`); },
    });
    log(`wgrad demo: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    backend.destroy();
  }
}
