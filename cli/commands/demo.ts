// wgrad demo: the self-contained pipeline in llm/demo (no downloads).
import { runDemo } from '../../llm/demo/pipeline.ts';
import { log, nonNegativeInt, positiveInt, type CommandSpec } from '../args.ts';
import { openBackend } from '../backend.ts';
import { backendFlags } from '../options.ts';

export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'a small Llama from scratch: addition, a Q/A format with LoRA, DPO, RLVR, then refusal, abliteration and steering (no downloads)',
  description: 'builds a small Llama from scratch, teaches it addition, then a question/answer format with LoRA,\n' +
    'then DPO on pairs preferring right answers to wrong ones, then RLVR (GRPO rewarded by the verified sum),\n' +
    'then SFT to refuse questions with a trigger, abliteration of the refusal direction and steering with it,\n' +
    'and prints held-out exact-match accuracy and refusal rates before and after each stage',
  flags: [
    { flags: '--output-dir <dir>', help: 'where the stages write', default: 'demo-output' },
    { flags: '--pretrain-steps <n>', help: 'steps of the pretraining stage', parse: positiveInt },
    { flags: '--lora-steps <n>', help: 'steps of the LoRA stage', parse: positiveInt },
    { flags: '--dpo-steps <n>', help: 'steps of the DPO stage', parse: positiveInt },
    { flags: '--rlvr-steps <n>', help: 'steps of the RLVR stage (0 skips it)', parse: nonNegativeInt },
    { flags: '--editing-steps <n>', help: 'SFT steps of the editing stage (0 skips it)', parse: nonNegativeInt },
    ...backendFlags,
  ],
  run: async (o) => {
    const backend = await openBackend(o);
    try {
      const t0 = performance.now();
      await runDemo({
        outputDir: o.outputDir as string, backend,
        pretrainSteps: o.pretrainSteps as number | undefined, loraSteps: o.loraSteps as number | undefined, dpoSteps: o.dpoSteps as number | undefined, rlvrSteps: o.rlvrSteps as number | undefined,
        editingSteps: o.editingSteps as number | undefined,
        log: (s) => console.log(s),
        onStep: (stage, r) => {
          if (r.step % (stage === 'rlvr' ? 10 : 50) !== 0) return;
          const margins = r['rewards/margins'] !== undefined ? `, rewards/margins ${r['rewards/margins']!.toFixed(3)}, rewards/accuracies ${r['rewards/accuracies']!.toFixed(2)}` : '';
          const reward = r.reward !== undefined ? `, reward ${r.reward!.toFixed(3)}` : '';
          log(`  ${stage} step ${r.step}: loss ${r.loss.toFixed(3)}${margins}${reward} (${r.tokens_per_second.toFixed(0)} tokens/s)`);
        },
      });
      log(`wgrad demo: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      backend.destroy();
    }
  },
};
