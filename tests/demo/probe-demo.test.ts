import { it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { runDemo } from '../../llm/demo/pipeline.ts';
it('demo', async () => {
  const t0 = performance.now();
  const r = await runDemo({ outputDir: '/tmp/grpo-demo-probe', backend: createCpuBackend(), log: (s) => console.log(((performance.now() - t0) / 1000).toFixed(0), s),
    onStep: (st, r) => { if (st === 'rlvr') console.log(st, r.step, r.reward, r['completions/mean_length'], (r.tokens_per_second).toFixed(0)); } });
  console.log(JSON.stringify(r), ((performance.now() - t0) / 1000).toFixed(0));
}, 1_800_000);
