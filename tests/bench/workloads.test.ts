// Every workload of every suite, at its small size, on each backend (cpu, and webgpu = SwiftShader
// here): its correctness check against the cpu backend in float64 passes, and one timed sample gives
// a row that the schema accepts. On webgpu the kernel workloads are timed by GPU timestamps.
import { describe, expect, it } from 'vitest';
import { checkWorkload, runWorkload } from '../../bench/run.ts';
import { SCHEMA_NAME, SCHEMA_VERSION, SUITES, type BenchFile } from '../../bench/schema.ts';
import { SUITE_REGISTRY } from '../../bench/suites.ts';
import { validateBenchFile } from '../../bench/validate.ts';
import { afterAll } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { createBackend } from '../../backends/select.ts';

const ONE_SAMPLE = { warmup: 0, samples: 1, targetMs: 0, maxInner: 1 };
const workloads = SUITES.flatMap((s) => SUITE_REGISTRY[s].workloads('quick'));

function fileOf(rows: BenchFile['rows']): BenchFile {
  return {
    schema: SCHEMA_NAME, version: SCHEMA_VERSION, label: 'test', suites: [...SUITES], mode: 'quick', date: new Date().toISOString(),
    engine: { name: 'wgrad', version: '0.1.0' }, runtime: { name: 'node', version: process.versions.node },
    device: { backend: 'cpu', name: 'test', adapter: null, features: [], limits: {} }, rows, skipped: [],
  };
}

describe('bench workload registry', () => {
  it('has every kind the issue lists, with unique ids, in quick and full mode', () => {
    for (const mode of ['quick', 'full'] as const) {
      const all = SUITES.flatMap((s) => SUITE_REGISTRY[s].workloads(mode));
      expect(new Set(all.map((w) => w.id)).size, `${mode}: ids must be unique`).toBe(all.length);
      const ops = new Set(all.map((w) => w.op));
      for (const op of ['matmul', 'copy', 'add', 'sum', 'softmax', 'cross_entropy_fwd_bwd', 'attention_fwd', 'attention_fwd_bwd',
        'lora_linear_fwd_bwd', 'adamw', 'lora_sft_step', 'dpo_step', 'grpo_step', 'generate']) expect(ops, `${mode} lacks ${op}`).toContain(op);
      for (const w of all) {
        expect(w.flops, w.id).toBeGreaterThanOrEqual(0);
        expect(w.bytes, w.id).toBeGreaterThan(0);
        expect(w.small().id.split('_')[0], w.id).toBe(w.id.split('_')[0]);
      }
    }
    const full = SUITES.flatMap((s) => SUITE_REGISTRY[s].workloads('full')).map((w) => w.id);
    for (const model of ['smollm2-135m', 'qwen2.5-0.5b', 'tinyllama-1.1b']) {
      expect(full.some((id) => id.startsWith(`lora_sft_step_${model}_`)), model).toBe(true);
      expect(full.some((id) => id.startsWith(`generate_${model}_`)), model).toBe(true);
    }
    expect(full).toContain('matmul_4096_nn');
  });
});

// As tests/setup/backends.ts, but the WebGPU device asks for 'timestamp-query', as `wgrad bench` does.
const only = process.env.WGRAD_TEST_BACKENDS?.split(',');
let gpu: Promise<Backend> | null = null;
afterAll(async () => { if (gpu) (await gpu).destroy(); });
const backends = [
  { name: 'cpu', get: async (): Promise<Backend> => createCpuBackend() },
  { name: 'webgpu', get: () => (gpu ??= createBackend({ backend: 'webgpu', timestampQuery: true })) },
].filter((b) => !only || only.includes(b.name));

for (const tb of backends) {
  describe(`bench workloads on ${tb.name} (small sizes)`, () => {
    for (const w of workloads) {
      it(`${w.id}: check against cpu float64 passes and a timed row validates`, { timeout: 60_000 }, async () => {
        const backend = await tb.get();
        const check = await checkWorkload(w, backend);
        expect(check.maxError, `${w.id} on ${tb.name}: error ${check.maxError} > ${check.tolerance}`).toBeLessThanOrEqual(check.tolerance);
        expect(check.passed).toBe(true);
        const row = await runWorkload(w.small(), backend, 'quick', check, ONE_SAMPLE);
        validateBenchFile(fileOf([row]), `${w.id} row`);
        expect(row.stats.medianMs).toBeGreaterThan(0);
        // A kernel shorter than SwiftShader's timestamp resolution reads as 0 ns and falls back to the
        // wall clock (bench/timing.ts); tests/bench/timing.test.ts checks the GPU timer itself.
        if (tb.name === 'webgpu') expect(w.wallClock ? ['wall-clock'] : ['gpu-timestamp', 'wall-clock']).toContain(row.timing);
        else expect(row.timing).toBe('wall-clock');
        if (w.op === 'lora_sft_step' || w.op === 'generate') expect(row.metrics?.tokensPerSecond).toBeGreaterThan(0);
      });
    }
  });
}
