// The protocol with every registered backend: capabilities are complete data and every "no" cell is
// refused by validate with the backend's matrix row; the local backend really runs each method it
// claims (one step each, LoRA and full); doctor's matrix shows exactly the declared cells; selection
// order (--backend, config, $WGRAD_BACKEND, local); and the same run on every local device gives the
// same result files, metric names and, within 1e-4, the same adapter.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { readSafetensors } from '../../llm/io/safetensors.ts';
import {
  backendFromConfig, capabilityMatrix, ConfigError, createLocalBackend, createTrainingBackend, registeredBackends, selectTrainingBackend,
  serveTrainingApi, TRAINING_METHODS, type RunConfig, type TrainingBackend,
} from '../../llm/backends/index.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';
import { testBackends } from '../setup/backends.ts';

const MODEL = 'models/stories260K-hf';
const ok = haveAssets(MODEL);
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-protocol-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Short rows, generated here: SFT, preference pairs and KTO's labelled completions.
const files = {
  sft: join(tmp, 'sft.jsonl'), pairs: join(tmp, 'pairs.jsonl'), kto: join(tmp, 'kto.jsonl'),
};
writeFileSync(files.sft, Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `Tom had ${i} cats.`, completion: ' He was happy.' })).join('\n'));
writeFileSync(files.pairs, Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `Lily saw ${i} birds.`, chosen: ' She smiled.', rejected: ' She ran.' })).join('\n'));
writeFileSync(files.kto, Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `Ben found ${i} toys.`, completion: i % 2 ? ' He shared.' : ' He hid them.', label: i % 2 === 1 })).join('\n'));

const run = (method: RunConfig['method'], out: string, options: RunConfig['options'] = {}): RunConfig => ({
  method, model: asset(MODEL), data: method === 'sft' ? files.sft : method === 'kto' ? files.kto : files.pairs, outputDir: join(tmp, out),
  options: { maxSteps: 1, batchSize: 2, maxLength: 24, seed: 1, saveEvery: 100, evalEvery: 100, learningRate: 1e-3, lora: { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'] }, ...options },
});

async function allBackends(): Promise<{ backends: TrainingBackend[]; close: () => void }> {
  const { server, url } = await serveTrainingApi({ jobsDir: join(tmp, 'api') });
  const env = { TOGETHER_API_KEY: 'k', OPENAI_API_KEY: 'k' };
  const backends = registeredBackends().map((n) => createTrainingBackend(n === 'http' ? url : n, { env }));
  return { backends, close: () => { server.closeAllConnections(); server.close(); } };
}

describe('training-backend protocol', () => {
  it('every registered backend declares every method, and validate refuses each "no" cell with its row', async () => {
    expect(registeredBackends().sort()).toEqual(['http', 'local', 'openai', 'together']);
    const { backends, close } = await allBackends();
    try {
      for (const b of backends) {
        expect(Object.keys(b.capabilities.methods).sort()).toEqual([...TRAINING_METHODS].sort());
        for (const m of TRAINING_METHODS) {
          const cell = b.capabilities.methods[m];
          if (cell.level === 'yes') continue;
          expect(cell.note, `${b.name} ${m}`).toBeTruthy();
          if (cell.level === 'partial') continue;
          const err = await b.validate(run(m, `refuse-${b.name}-${m}`)).catch((e) => e);
          expect(err, `${b.name} ${m}`).toBeInstanceOf(ConfigError);
          expect(err.message).toContain(`backend ${b.name} cannot run --method ${m}: ${cell.note}\n${b.name}: sft `);
        }
        expect(await b.unavailable()).toBeNull();
      }
    } finally { close(); }
  });

  it("doctor's matrix shows exactly the declared cells, with the notes", async () => {
    const { backends, close } = await allBackends();
    close();
    const text = capabilityMatrix(backends);
    const lines = text.split('\n');
    const header = lines[0].split(/\s+/);
    expect(header).toEqual(['method', ...backends.map((b) => b.name)]);
    for (const m of TRAINING_METHODS) {
      const cells = lines.find((l) => l.startsWith(m + ' '))!.split(/\s+/).slice(1);
      expect(cells).toEqual(backends.map((b) => ({ yes: '✓', partial: '~', no: '—' })[b.capabilities.methods[m].level]));
    }
    expect(text).toContain('kto on together (no): local only: no hosted provider offers it');
    expect(text).toContain('reinforcement on openai (yes): method "reinforcement" with a grader');
  });

  it('selection: --backend, then the config section, then $WGRAD_BACKEND, then local; errors name the field', () => {
    const env = { WGRAD_BACKEND: 'together', TOGETHER_API_KEY: 'k' };
    expect(selectTrainingBackend({ flag: 'openai', config: { spec: 'together', opts: {} }, env }).name).toBe('openai');
    expect(selectTrainingBackend({ config: backendFromConfig({ type: 'cpu' }, 'run.yaml'), env }).description).toBe('this engine (device cpu)');
    expect(selectTrainingBackend({ env }).name).toBe('together');
    expect(selectTrainingBackend({ env: {} }).description).toBe('this engine (device auto)');
    expect(createTrainingBackend('http://127.0.0.1:9').name).toBe('http');
    expect(() => createTrainingBackend('modal')).toThrow('unknown backend "modal" (expected local, together, openai, cpu, webgpu, auto, or http://HOST:PORT)');
    expect(() => backendFromConfig({ type: 'local', device: 'cuda' }, 'run.yaml')).toThrow('run.yaml: backend.device: expected cpu, webgpu, auto, got "cuda"');
    expect(() => backendFromConfig({ type: 'local', dtype: 'bfloat16' }, 'run.yaml')).toThrow('run.yaml: backend.dtype: only float32 trains today');
    expect(() => backendFromConfig({ kind: 'local' }, 'run.yaml')).toThrow('run.yaml: backend.kind: unknown key');
  });
});

describe.skipIf(!ok)('the local backend does what it declares', () => {
  it.each(['sft', 'dpo', 'orpo', 'cpo', 'simpo', 'kto'] as const)('%s with LoRA: one step, the metrics and both adapter folders', async (method) => {
    expect(createLocalBackend().capabilities.methods[method].level).toBe('yes');
    const r = await (await createLocalBackend({ device: 'cpu' }).start(run(method, `claim-${method}`))).done;
    expect(r.status).toBe('succeeded');
    for (const f of ['metrics.jsonl', 'job.json', 'adapter/adapter_model.safetensors', 'adapter-mlx/adapters.safetensors']) expect(r.files).toContain(f);
    const rec = JSON.parse(readFileSync(join(r.outputDir, 'metrics.jsonl'), 'utf8').split('\n')[0]);
    expect(rec).toMatchObject({ step: 1 });
    if (method !== 'sft') expect(Object.keys(rec)).toContain(method === 'kto' ? 'kl' : 'rewards/margins');
  }, 30_000);

  it.each(['grpo', 'rlvr'] as const)('%s with LoRA: one step of sampling, rewards and the loss; TRL\'s metric names; both adapter folders', async (method) => {
    expect(createLocalBackend().capabilities.methods[method].level).toBe('yes');
    const prompts = join(tmp, 'prompts.jsonl');
    writeFileSync(prompts, ['1', '2', '3'].map((n) => JSON.stringify({ prompt: `Lily had ${n}`, answer: n })).join('\n'));
    const c = { ...run(method, `claim-${method}`), data: prompts };
    c.options = { ...c.options, batchSize: 4, rewardFuncs: ['accuracy', 'soft_overlong'], softPunishCache: 2, grpo: { numGenerations: 2, maxCompletionLength: 4, beta: 0.04 } };
    // validate reads the prompts with the local parsers before anything starts; a bad row is named by line.
    expect((await createLocalBackend({ device: 'cpu' }).validate(c)).summary).toBe('train: 3 of 3 rows valid [prompt 3]');
    const bad = join(tmp, `bad-prompts-${method}.jsonl`);
    writeFileSync(bad, [JSON.stringify({ prompt: 'ok' }), JSON.stringify({ prompt: 7 })].join('\n'));
    await expect(createLocalBackend({ device: 'cpu' }).validate({ ...c, data: bad })).rejects.toThrow(`${bad}:2: prompt: must be a string or a list of messages, got a number`);
    const events: string[] = [];
    const r = await (await createLocalBackend({ device: 'cpu' }).start(c, { onEvent: (e) => events.push(e.type) })).done;
    expect(r.status).toBe('succeeded');
    expect(events).toContain('progress');
    for (const f of ['metrics.jsonl', 'job.json', 'adapter/adapter_model.safetensors', 'adapter-mlx/adapters.safetensors']) expect(r.files).toContain(f);
    const rec = JSON.parse(readFileSync(join(r.outputDir, 'metrics.jsonl'), 'utf8').split('\n')[0]);
    expect(rec).toMatchObject({ step: 1 });
    for (const k of ['reward', 'rewards/accuracy/mean', 'rewards/soft_overlong/mean', 'kl', 'entropy', 'clip_ratio/region_mean', 'completions/mean_length']) expect(rec, k).toHaveProperty(k);
    // rlvr without a verifier is refused when the run loads its rewards, before any step.
    if (method === 'rlvr') {
      const bad = { ...c, outputDir: join(tmp, 'claim-rlvr-none'), options: { ...c.options, rewardFuncs: undefined } };
      await expect((await createLocalBackend({ device: 'cpu' }).start(bad)).done).rejects.toThrow(/--method rlvr needs at least one verifier/);
    }
  }, 30_000);

  it('full fine-tuning writes a model folder; --resume continues a cancelled run from its checkpoint', async () => {
    const full = await (await createLocalBackend({ device: 'cpu' }).start(run('sft', 'claim-full', { lora: null }))).done;
    expect(full.files).toContain('model/model.safetensors');
    const c = run('sft', 'cancel', { maxSteps: 4, saveEvery: 1 });
    const job = await createLocalBackend({ device: 'cpu' }).start(c, { onEvent: (e) => { if (e.type === 'progress' && e.step === 2) void job.cancel(); } });
    expect((await job.done).status).toBe('cancelled');
    expect(JSON.parse(readFileSync(join(c.outputDir, 'job.json'), 'utf8')).status).toBe('cancelled');
    const steps: number[] = [];
    const resumed = await (await createLocalBackend({ device: 'cpu' }).resume(c.outputDir, { onEvent: (e) => { if (e.type === 'progress') steps.push(e.step); } })).done;
    expect(resumed.status).toBe('succeeded');
    // Cancelled during step 2: the trainer stops after it with a checkpoint, and the run continues from there.
    expect(steps).toEqual([3, 4]);
    await expect(createLocalBackend().start(c)).rejects.toThrow(/job\.json exists: a run was started in .*; pass --resume/);
  }, 60_000);

  const devices = testBackends().filter((b) => b.name !== 'cpu-f64');
  it.skipIf(devices.length < 2)(`equivalence: the same run on ${devices.map((d) => d.name).join(' and ')} gives the same files, metric names and adapter (|Δ| ≤ 1e-4)`, async () => {
    const results = [];
    for (const d of devices) {
      const compute: Backend = await d.get();
      const r = await (await createLocalBackend({ compute }).start(run('sft', `equiv-${d.name}`, { maxSteps: 1, maxLength: 12, batchSize: 1, lora: { r: 2, alpha: 4, targets: ['q_proj'] } }))).done;
      const names = [...new Set(readFileSync(join(r.outputDir, 'metrics.jsonl'), 'utf8').trim().split('\n').flatMap((l) => Object.keys(JSON.parse(l))))].sort();
      const st = readSafetensors(readFileSync(join(r.outputDir, 'adapter', 'adapter_model.safetensors')));
      results.push({ files: r.files.filter((f) => f !== 'job.json').sort(), names, tensors: st.tensors });
    }
    const [a, b] = results;
    expect(b.files).toEqual(a.files);
    expect(b.names).toEqual(a.names);
    for (const [k, t] of a.tensors) {
      const u = b.tensors.get(k)!;
      let max = 0;
      for (let i = 0; i < t.data.length; i++) max = Math.max(max, Math.abs(t.data[i] - u.data[i]));
      expect(max, k).toBeLessThanOrEqual(1e-4);
    }
    expect(existsSync(join(tmp, 'equiv-cpu', 'adapter-mlx', 'adapters.safetensors'))).toBe(true);
  }, 120_000);
});
