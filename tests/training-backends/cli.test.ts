// The command line over the training backends, in process (cli/program.ts main) against the local
// contract server: train --backend together writes the adapter folders and refuses what the
// backend cannot do (exit 2, with its matrix row); jobs list/status; doctor's matrix; and the API key
// appears in nothing printed or written.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/program.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';
import { servedAdapter, startContractServer, type ContractServer } from './contract-server.ts';

const KEY = 'tgp-CLI-key-that-must-not-appear-42';
const SFT = 'data/torchtune/alpaca_tiny.json';
const ok = haveAssets(SFT);
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-cli-backends-'));
let server: ContractServer;
let printed = '';
const saved = { ...process.env };

beforeAll(async () => {
  server = await startContractServer({ key: KEY, adapter: servedAdapter() });
  Object.assign(process.env, { TOGETHER_API_KEY: KEY, OPENAI_API_KEY: KEY, WGRAD_BACKEND: '' });
});
afterAll(async () => {
  process.env = saved;
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function wgrad(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = vi.spyOn(console, 'log').mockImplementation((...a) => { out += a.join(' ') + '\n'; });
  const e = vi.spyOn(console, 'error').mockImplementation((...a) => { err += a.join(' ') + '\n'; });
  try {
    const code = await main(argv);
    printed += out + err;
    return { code, out, err };
  } finally { o.mockRestore(); e.mockRestore(); }
}

describe.skipIf(!ok)('wgrad train --backend / jobs / doctor', () => {
  it('train --backend together runs the hosted job and writes the adapter folders; jobs list and status find it', async () => {
    const out = join(tmp, 'run');
    const r = await wgrad('train', '--backend', 'together', '--base-url', server.togetherUrl, '--model', 'meta-llama/Llama-3.2-1B-Instruct',
      '--data', asset(SFT), '--output-dir', out, '--num-train-epochs', '2', '--lora-r', '2', '--lora-alpha', '4', '--yes', '--poll-interval', '0.01');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('wgrad: data train: 100 of 100 rows valid [alpaca 100]');
    expect(r.err).toMatch(/together: status: succeeded \(completed\)/);
    for (const f of ['adapter/adapter_config.json', 'adapter-mlx/adapters.safetensors', 'metrics.jsonl', 'job.json']) expect(existsSync(join(out, f))).toBe(true);
    const job = [...server.jobs.values()][0];
    // Only what was given: epochs and the LoRA shape; Together's defaults for the rest.
    expect(job.body).toEqual({ model: 'meta-llama/Llama-3.2-1B-Instruct', training_file: job.body.training_file, n_epochs: 2, training_method: { method: 'sft', train_on_inputs: 'auto' }, training_type: { type: 'Lora', lora_r: 2, lora_alpha: 4, lora_trainable_modules: 'q_proj,v_proj' } });
    const list = await wgrad('jobs', 'list', '--backend', 'together', '--base-url', server.togetherUrl);
    expect(list.out).toMatch(new RegExp(`^${job.id}\\s+succeeded\\s+completed\\s+meta-llama`));
    const status = await wgrad('jobs', 'status', '--output-dir', out, '--base-url', server.togetherUrl);
    expect(status.out).toContain(`${job.id}  succeeded`);
    // --resume re-attaches to the recorded job (no new upload or job) and fetches its results again.
    const before = server.requests.filter((q) => q.method === 'POST').length;
    const again = await wgrad('train', '--backend', 'together', '--base-url', server.togetherUrl, '--output-dir', out, '--resume', '--poll-interval', '0.01');
    expect(again.code, again.err).toBe(0);
    expect(again.err).toContain(`together: re-attaching to job ${job.id}`);
    expect(server.requests.filter((q) => q.method === 'POST').length).toBe(before);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBe(5); // 4 train + 1 eval, not twice
  }, 30_000);

  it('refuses what a backend cannot do, naming it, before any request (exit 2)', async () => {
    const n = server.requests.length;
    let r = await wgrad('train', '--backend', 'together', '--base-url', server.togetherUrl, '--method', 'kto', '--model', 'm', '--data', asset(SFT), '--output-dir', join(tmp, 'kto'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('backend together cannot run --method kto: local only: no hosted provider offers it\ntogether: sft ✓, dpo ✓');
    r = await wgrad('train', '--backend', 'openai', '--base-url', server.openaiUrl, '--model', 'gpt-4o-mini', '--data', asset(SFT), '--output-dir', join(tmp, 'oa'), '--optimizer', 'lion');
    expect(r.code).toBe(2);
    expect(r.err).toContain('backend openai has no equivalent of --optimizer; remove it or use --backend local');
    r = await wgrad('train', '--backend', 'modal', '--model', 'm', '--data', asset(SFT), '--output-dir', join(tmp, 'x'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('--backend expects auto | cpu | webgpu | local | together | openai | http://HOST:PORT, got "modal"');
    r = await wgrad('train', '--method', 'reinforcement', '--model', 'm', '--data', asset(SFT), '--output-dir', join(tmp, 'y'), '--backend', 'cpu');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--method reinforcement runs on OpenAI\'s graders (--backend openai)');
    const cfg = join(tmp, 'run.yaml');
    writeFileSync(cfg, 'backend:\n  type: together\n  device: cuda\n');
    r = await wgrad('train', '--config', cfg, '--model', 'm', '--data', asset(SFT), '--output-dir', join(tmp, 'z'));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${cfg}: backend.device: expected cpu, webgpu, auto, got "cuda"`);
    expect(server.requests.length).toBe(n);
  });

  it('doctor prints the matrix with why cells are empty, and the key status without the key', async () => {
    const r = await wgrad('doctor');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^method\s+local\s+together\s+openai$/m);
    expect(r.out).toMatch(/^kto\s+✓\s+—\s+—$/m);
    expect(r.out).toMatch(/^reinforcement\s+—\s+—\s+✓$/m);
    expect(r.out).toContain('together: ok — Together fine-tuning');
    expect(r.out).toContain('OpenAI fine-tuning is closed to organisations that have not used it before and ends for everyone in January 2027');
  }, 60_000);

  it('the key appears in no output and no file', () => {
    expect(printed).not.toContain(KEY);
    for (const f of readdirSync(tmp, { recursive: true }) as string[]) {
      const p = join(tmp, f);
      if (statSync(p).isFile()) expect(readFileSync(p).toString('latin1'), p).not.toContain(KEY);
    }
  });
});
