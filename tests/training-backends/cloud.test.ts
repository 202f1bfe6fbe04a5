// The hosted backends against a local contract server (contract-server.ts) through the official
// SDKs and base URLs, never the network: SFT and DPO jobs from local files end with adapter folders
// that load into stories260K; a follower stopped mid-job re-attaches with resume (one job on the
// server); 429 (Retry-After) and 500 are retried; 401 and refused options fail with clear messages
// before any upload; the API key appears in no event, error or file.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { loadAdapter } from '../../llm/adapters/index.ts';
import { loadLlama } from '../../llm/models/llama/load.ts';
import { createOpenAIBackend, createTogetherBackend, type JobEvent, type RunConfig, type TrainingBackend } from '../../llm/backends/index.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';
import { servedAdapter, startContractServer, type ContractServer } from './contract-server.ts';

const KEY = 'sk-test-K3Y-must-never-leak-0123456789';
const MODEL = 'models/stories260K-hf';
const SFT = 'data/torchtune/alpaca_tiny.json';
const PAIRS = 'data/torchtune/hh_rlhf_tiny.json';
const HH = 'data/hh-rlhf/harmless-base.test.jsonl.gz';
const ok = haveAssets(MODEL, SFT, PAIRS, HH);
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-cloud-'));

let server: ContractServer;
const adapter = servedAdapter();
const env = { TOGETHER_API_KEY: KEY, OPENAI_API_KEY: KEY };
const events: JobEvent[] = [];
const errors: string[] = [];

beforeAll(async () => {
  server = await startContractServer({ key: KEY, adapter });
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const together = (e: Record<string, string | undefined> = env) => createTogetherBackend({ env: e, baseUrl: server.togetherUrl, pollMs: 5, maxRetries: 3, timeoutMs: 5000 });
const openai = (e: Record<string, string | undefined> = env) => createOpenAIBackend({ env: e, baseUrl: server.openaiUrl, pollMs: 5, maxRetries: 3, timeoutMs: 5000 });
const config = (method: RunConfig['method'], data: string, out: string, options: RunConfig['options'] = {}): RunConfig =>
  ({ method, model: 'meta-llama/Llama-3.2-1B-Instruct', data: asset(data), outputDir: join(tmp, out), options });

async function run(b: TrainingBackend, c: RunConfig, estimates: string[] = []) {
  const job = await b.start(c, { onEvent: (e) => events.push(e), confirmSpend: async (text) => { estimates.push(text); return true; } });
  return job.done;
}

async function rejects(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { errors.push((e as Error).message); return (e as Error).message; }
  throw new Error('expected a rejection');
}

/** Every file under dir, as text. */
function allText(dir: string): string {
  let s = '';
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    if (statSync(p).isFile()) s += readFileSync(p).toString('latin1');
  }
  return s;
}

async function expectLoads(dir: string) {
  const backend = createCpuBackend();
  for (const folder of ['adapter', 'adapter-mlx']) {
    const { model } = await loadLlama(asset(MODEL), { backend });
    const { layers } = await loadAdapter(model, join(dir, folder));
    expect(layers.size).toBe(10);
    const q0 = layers.get('model.layers.0.self_attn.q_proj')!;
    expect(Array.from(await q0.lora_A.data())).toEqual(Array.from(adapter.modules.get('model.layers.0.self_attn.q_proj')!.A.data));
    model.dispose();
  }
}

describe.skipIf(!ok)('hosted fine-tuning against the contract server', () => {
  it('together: an SFT job uploads through the redirect, retries 429/500, asks before spending and writes loadable adapters', async () => {
    server.fail('POST', /^\/together\/v1\/fine-tunes$/, 429, 1, { 'retry-after': '1' });
    server.fail('GET', /^\/together\/v1\/fine-tunes\/ft-/, 500, 1);
    const estimates: string[] = [];
    const t0 = Date.now();
    const r = await run(together(), config('sft', SFT, 'together-sft', { epochs: 1, learningRate: 1e-5, lora: { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'] } }), estimates);
    expect(r.status).toBe('succeeded');
    expect(estimates[0]).toMatch(/^estimated \$\d+\.\d\d for \d+ training tokens \(credit limit \$100\)$/);
    const creates = server.requests.filter((q) => q.method === 'POST' && q.path === '/together/v1/fine-tunes');
    expect(creates.length).toBe(2); // the 429, then the retry
    expect(creates[1].at - creates[0].at).toBeGreaterThanOrEqual(900); // Retry-After: 1 honoured
    expect(Date.now() - t0).toBeLessThan(20_000);
    const job = [...server.jobs.values()].find((j) => j.provider === 'together')!;
    expect(job.body).toMatchObject({ n_epochs: 1, learning_rate: 1e-5, training_method: { method: 'sft', train_on_inputs: 'auto' }, training_type: { type: 'Lora', lora_r: 2, lora_alpha: 4, lora_trainable_modules: 'q_proj,v_proj' } });
    const uploaded = server.files.get(String(job.body.training_file))!.bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(uploaded.length).toBe(100);
    expect(uploaded[0].messages[0]).toEqual({ role: 'user', content: 'Give three tips for staying healthy.' });
    await expectLoads(r.outputDir);
    const metrics = readFileSync(join(r.outputDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics[0]).toEqual({ step: 1, epoch: 0.25, loss: 2.5, grad_norm: 1.5, lr: 1e-5 });
    expect(metrics.at(-1)).toEqual({ step: 4, eval_loss: 1.25 });
    const rec = JSON.parse(readFileSync(join(r.outputDir, 'job.json'), 'utf8'));
    expect(rec).toMatchObject({ backend: 'together', jobId: job.id, status: 'succeeded', fileIds: { training: job.body.training_file } });
    expect(events.some((e) => e.type === 'progress' && e.step === 2 && e.totalSteps === 4)).toBe(true);
  }, 30_000);

  it('together: a DPO job sends OpenAI-format pairs with β and RPO, and SimPO maps onto reference-free DPO', async () => {
    const r = await run(together(), config('dpo', PAIRS, 'together-dpo', { preference: { beta: 0.2, rpoAlpha: 0.5 }, lora: null }));
    expect(r.status).toBe('succeeded');
    expect(r.files.some((f) => f.startsWith('model/'))).toBe(true); // --full: the merged download unpacked
    const jobs = [...server.jobs.values()].filter((j) => j.provider === 'together');
    expect(jobs[1].body).toMatchObject({ training_method: { method: 'dpo', dpo_beta: 0.2, rpo_alpha: 0.5 }, training_type: { type: 'Full' } });
    const row = JSON.parse(server.files.get(String(jobs[1].body.training_file))!.bytes.toString('utf8'));
    expect(row).toEqual({
      input: { messages: [{ role: 'user', content: 'What do I do when I have a hole in my trousers?' }] },
      preferred_output: [{ role: 'assistant', content: 'Fix the hole.' }], non_preferred_output: [{ role: 'assistant', content: 'Take them off.' }],
    });
    const simpo = await run(together(), config('simpo', PAIRS, 'together-simpo', { preference: { gamma: 0.3 } }));
    expect(simpo.status).toBe('succeeded');
    expect([...server.jobs.values()].filter((j) => j.provider === 'together')[2].body.training_method).toEqual({ method: 'dpo', dpo_reference_free: true, dpo_normalize_logratios_by_length: true, simpo_gamma: 0.3 });
    await expectLoads(simpo.outputDir);
  }, 30_000);

  it('together: a follower stopped mid-job re-attaches with resume; the server sees one job', async () => {
    const c = config('sft', SFT, 'together-resume', { epochs: 2 });
    const stop = new AbortController();
    const job = await together().start(c, { yes: true, signal: stop.signal, onEvent: (e) => { events.push(e); if (e.type === 'status' && e.status === 'queued') stop.abort(new Error('killed')); } });
    await expect(job.done).rejects.toThrow('killed');
    const before = server.jobs.size;
    const creates = () => server.requests.filter((q) => q.method === 'POST' && q.path === '/together/v1/fine-tunes').length;
    const created = creates();
    await expect(together().start(c, { yes: true })).rejects.toThrow(/job\.json records together job ft-\d+ \(queued\); pass --resume/);
    const r = await (await together().resume(c.outputDir, { onEvent: (e) => events.push(e) })).done;
    expect(r.status).toBe('succeeded');
    expect(server.jobs.size).toBe(before);
    expect(creates()).toBe(created);
    await expectLoads(r.outputDir);
  }, 30_000);

  it('openai: supervised and DPO jobs end with the hosted model id, events as progress and metrics under local names', async () => {
    const r = await run(openai(), config('sft', SFT, 'openai-sft', { epochs: 2, batchSize: 4, lrMultiplier: 0.5, suffix: 'wgrad' }));
    expect(r.status).toBe('succeeded');
    const model = JSON.parse(readFileSync(join(r.outputDir, 'model.json'), 'utf8'));
    expect(model.model).toMatch(/^ft:meta-llama\/Llama-3\.2-1B-Instruct:org::/);
    expect(model.checkpoints[0]).toMatchObject({ step: 2, metrics: { step: 2, loss: 1, eval_loss: 1.25 } });
    const jobs = [...server.jobs.values()].filter((j) => j.provider === 'openai');
    expect(jobs[0].body).toMatchObject({ suffix: 'wgrad', method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 4, learning_rate_multiplier: 0.5 } } } });
    const metrics = readFileSync(join(r.outputDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics).toEqual([{ step: 1, loss: 2, eval_loss: 2.5, mean_token_accuracy: 0.3 }, { step: 2, loss: 1, eval_loss: 1.25, mean_token_accuracy: 0.6 }]);
    const dpo = await run(openai(), config('dpo', HH, 'openai-dpo', { preference: { beta: 0.1 }, valFraction: 0.01, seed: 1 }));
    expect(dpo.status).toBe('succeeded');
    expect(jobs.length + 1).toBe([...server.jobs.values()].filter((j) => j.provider === 'openai').length);
    const j2 = [...server.jobs.values()].filter((j) => j.provider === 'openai')[1];
    expect(j2.body).toMatchObject({ method: { type: 'dpo', dpo: { hyperparameters: { beta: 0.1 } } } });
    expect(j2.body.validation_file).toMatch(/^file-/);
  }, 30_000);

  it('refuses what a provider cannot do, by name, before any upload', async () => {
    const n = server.requests.length;
    expect(await rejects(together().validate(config('kto', PAIRS, 'x')))).toMatch(/backend together cannot run --method kto: local only.*\ntogether: sft ✓, dpo ✓, orpo —, cpo —, simpo ~, kto —/);
    expect(await rejects(together().start(config('sft', SFT, 'x1', { optimizer: 'lion' }), { yes: true }))).toBe('together: --optimizer lion is not offered (Together trains with AdamW)');
    expect(await rejects(together().start(config('sft', SFT, 'x2', { maxSteps: 10 }), { yes: true }))).toBe('backend together has no equivalent of --max-steps; remove it or use --backend local');
    expect(await rejects(openai().start(config('sft', SFT, 'x3', { lora: { r: 8, alpha: 16, targets: ['q_proj'] } }), { yes: true }))).toMatch(/openai does not let you choose LoRA settings/);
    expect(await rejects(openai().start(config('dpo', PAIRS, 'x4', { preference: { lossType: 'ipo' } }), { yes: true }))).toMatch(/lossType has no OpenAI equivalent/);
    expect(await rejects(openai().start(config('reinforcement', SFT, 'x5'), { yes: true }))).toMatch(/needs --grader/);
    // A bad row: the local parser's error, naming file, line and field.
    expect(await rejects(together().start(config('sft', 'data/torchtune/hh_rlhf_tiny.json', 'x6'), { yes: true }))).toMatch(/hh_rlhf_tiny\.json row 1 \(line 1\): row matches no known format/);
    expect(server.requests.length).toBe(n);
    // Without consent no job is created (the estimate is asked for, then nothing).
    const created = server.jobs.size;
    expect(await rejects(together().start(config('sft', SFT, 'x7'), { confirmSpend: async () => false }))).toMatch(/stopped before creating the job \(estimated \$.*\); pass --yes/);
    expect(server.jobs.size).toBe(created);
  }, 30_000);

  it('401 fails with a clear message naming the key variable; a missing key is caught before any request', async () => {
    const n = server.requests.length;
    expect(await rejects(together({ TOGETHER_API_KEY: undefined }).start(config('sft', SFT, 'y0'), { yes: true }))).toMatch(/set TOGETHER_API_KEY/);
    expect(server.requests.length).toBe(n);
    const msg = await rejects(together({ TOGETHER_API_KEY: 'wrong-key' }).start(config('sft', SFT, 'y1'), { yes: true }));
    expect(msg).toMatch(/^together: upload of .*train\.jsonl failed with HTTP 401: the API key in TOGETHER_API_KEY was not accepted .* together says: Invalid API key provided$/);
    const msg2 = await rejects(openai({ OPENAI_API_KEY: 'wrong-key' }).start(config('sft', SFT, 'y2'), { yes: true }));
    expect(msg2).toMatch(/^openai: upload of .* failed with HTTP 401: the API key in OPENAI_API_KEY was not accepted/);
    const n2 = server.requests.length;
    server.fail('GET', /^\/openai\/v1\/fine_tuning\/jobs\/nope$/, 500, 10);
    expect(await rejects(openai().jobs!.status('nope'))).toMatch(/HTTP 500: server error, still failing after the retries/);
    expect(server.requests.length - n2).toBe(4); // the first try and 3 retries
  }, 30_000);

  it('the API key appears in no event, error or output file, and was sent only as a bearer token', () => {
    expect(server.requests.filter((q) => q.auth === `Bearer ${KEY}`).length).toBeGreaterThan(20);
    expect(JSON.stringify(events)).not.toContain(KEY);
    expect(errors.join('\n')).not.toContain(KEY);
    expect(allText(tmp)).not.toContain(KEY);
  });
});
