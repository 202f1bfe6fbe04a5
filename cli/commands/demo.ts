// wgrad demo: the self-contained pipeline in llm/demo (no downloads).
import { createBackend, type BackendChoice } from '../../engine/index.ts';
import { runDemo } from '../../llm/demo/pipeline.ts';
import { log, numberFlag, parse } from '../args.ts';

export const demoHelp = `wgrad demo [--output-dir DIR] [--pretrain-steps N] [--lora-steps N] [--dpo-steps N] [--editing-steps N] [--backend NAME]
  builds a small Llama from scratch, teaches it addition, then a question/answer format with LoRA,
  then DPO on pairs preferring right answers to wrong ones, then SFT to refuse questions with a
  trigger, abliteration of the refusal direction and steering with it (--editing-steps 0 skips);
  prints held-out exact-match accuracy and refusal rates before and after each stage (default DIR: demo-output)`;

export async function demoCommand(argv: string[]): Promise<void> {
  const { values } = parse('demo', argv, {
    'output-dir': { type: 'string' }, 'pretrain-steps': { type: 'string' }, 'lora-steps': { type: 'string' }, 'dpo-steps': { type: 'string' }, 'editing-steps': { type: 'string' }, backend: { type: 'string' },
  });
  if (values.help) { console.log(demoHelp); return; }
  const steps = (k: 'pretrain-steps' | 'lora-steps' | 'dpo-steps' | 'editing-steps') =>
    values[k] === undefined ? undefined : numberFlag('demo', k, values[k], 0, 'a positive integer', (n) => Number.isInteger(n) && n > 0);
  const backend = await createBackend({ backend: values.backend as BackendChoice | undefined });
  try {
    log(`wgrad demo on ${backend.description}`);
    const t0 = performance.now();
    await runDemo({
      outputDir: values['output-dir'] ?? 'demo-output', backend, pretrainSteps: steps('pretrain-steps'), loraSteps: steps('lora-steps'), dpoSteps: steps('dpo-steps'),
      editingSteps: values['editing-steps'] === '0' ? 0 : steps('editing-steps'),
      log: (s) => console.log(s),
      onStep: (stage, r) => {
        if (r.step % 50 !== 0) return;
        const margins = r['rewards/margins'] !== undefined ? `, rewards/margins ${r['rewards/margins']!.toFixed(3)}, rewards/accuracies ${r['rewards/accuracies']!.toFixed(2)}` : '';
        log(`  ${stage} step ${r.step}: loss ${r.loss.toFixed(3)}${margins} (${r.tokens_per_second.toFixed(0)} tokens/s)`);
      },
    });
    log(`wgrad demo: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    backend.destroy();
  }
}
