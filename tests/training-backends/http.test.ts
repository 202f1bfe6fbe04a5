// The protocol over HTTP: a job submitted with --backend http://HOST:PORT to a `serve --api` process
// (started here) trains, streams events and returns the same adapter and metric names as the same
// run started locally; the server killed (SIGKILL) mid-job and restarted finishes the job from its
// checkpoint. A token guards a server bound beyond loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { readSafetensors } from '../../llm/io/safetensors.ts';
import { createHttpBackend, createLocalBackend, serveTrainingApi, type JobEvent, type RunConfig } from '../../llm/backends/index.ts';
import { asset, haveAssets } from '../io/shared-assets.ts';

const MODEL = 'models/stories260K-hf';
const ok = haveAssets(MODEL);
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-http-'));
// Short rows keep each CPU step near 0.1 s: "Once upon a time, Tom had 3 cats." style completions.
const DATA = join(tmp, 'tiny.jsonl');
writeFileSync(DATA, Array.from({ length: 24 }, (_, i) => JSON.stringify({ prompt: `Tom had ${i} cats.`, completion: ` He gave one to Sue.` })).join('\n') + '\n');
const root = join(import.meta.dirname, '..', '..');
const bundle = join(tmp, 'server.mjs');
const children: ChildProcess[] = [];

const config = (out: string): RunConfig => ({
  method: 'sft', model: asset(MODEL), data: DATA, outputDir: join(tmp, out),
  options: { maxSteps: 8, batchSize: 2, maxLength: 32, learningRate: 3e-3, saveEvery: 2, evalEvery: 100, seed: 1, lora: { r: 2, alpha: 4, targets: ['q_proj', 'v_proj'] } },
});

beforeAll(async () => {
  await build({
    absWorkingDir: root, entryPoints: [join(import.meta.dirname, 'api-server-main.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'esm',
    target: 'node20', external: ['webgpu', 'deno'], logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}, 60_000);
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts the server process; resolves with its URL. */
function startServer(jobsDir: string, port = 0): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [bundle, jobsDir, String(port)], { cwd: root, env: { ...process.env, WGRAD_BACKEND: 'cpu' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => resolve({ url: String(d).trim(), proc }));
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
}

function tensors(dir: string): Record<string, number[]> {
  const st = readSafetensors(readFileSync(join(dir, 'adapter', 'adapter_model.safetensors')));
  return Object.fromEntries([...st.tensors].map(([n, t]) => [n, Array.from(t.data)]));
}
const metricNames = (dir: string) => [...new Set(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').flatMap((l) => Object.keys(JSON.parse(l))))].sort();

describe.skipIf(!ok)('training over HTTP (serve --api)', () => {
  it('a job over HTTP survives a server kill and returns the adapter of the same run started locally', async () => {
    const compute = createCpuBackend();
    const local = await (await createLocalBackend({ compute }).start(config('local'))).done;
    expect(local.status).toBe('succeeded');

    const jobsDir = join(tmp, 'jobs');
    let server = await startServer(jobsDir);
    const port = new URL(server.url).port;
    const events: JobEvent[] = [];
    let killed = false;
    const job = await createHttpBackend({ baseUrl: server.url }).start(config('remote'), {
      onEvent: (e) => {
        events.push(e);
        // After the step-2 checkpoint, before the end: the machine dies.
        if (!killed && e.type === 'progress' && e.step >= 3) { killed = true; server.proc.kill('SIGKILL'); }
      },
    });
    await new Promise((r) => server.proc.once('exit', r));
    expect(killed).toBe(true);
    server = await startServer(jobsDir, Number(port));
    const r = await job.done;
    expect(r.status).toBe('succeeded');
    expect(events.some((e) => e.type === 'log' && e.message.includes('server restarted: resuming'))).toBe(true);
    expect(events.filter((e) => e.type === 'progress').at(-1)).toMatchObject({ step: 8, totalSteps: 8 });
    for (const f of ['adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'adapter-mlx/adapters.safetensors', 'metrics.jsonl', 'job.json']) expect(r.files).toContain(f);
    expect(JSON.parse(readFileSync(join(r.outputDir, 'job.json'), 'utf8'))).toMatchObject({ backend: 'http', status: 'succeeded', baseUrl: server.url });

    const [a, b] = [tensors(local.outputDir), tensors(r.outputDir)];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) for (let i = 0; i < a[k].length; i++) expect(Math.abs(a[k][i] - b[k][i])).toBeLessThanOrEqual(1e-6);
    expect(metricNames(r.outputDir)).toEqual(metricNames(local.outputDir));
    server.proc.kill('SIGKILL');
  }, 120_000);

  it('a token guards the API; binding beyond loopback without one is refused', async () => {
    await expect(serveTrainingApi({ jobsDir: join(tmp, 'j2'), host: '0.0.0.0' })).rejects.toThrow('binding to 0.0.0.0 exposes training to the network; set a token');
    const { server, url } = await serveTrainingApi({ jobsDir: join(tmp, 'j3'), token: 'T0K' });
    try {
      expect((await fetch(`${url}/api/v1/health`)).status).toBe(401);
      expect(await createHttpBackend({ baseUrl: url, env: {} }).unavailable()).toMatch(/HTTP 401: missing or wrong token/);
      expect(await createHttpBackend({ baseUrl: url, token: 'T0K' }).unavailable()).toBeNull();
      const bad = await createHttpBackend({ baseUrl: url, token: 'T0K' }).start({ ...config('bad'), method: 'kto', data: DATA }).catch((e: Error) => e.message);
      expect(bad).toMatch(/tiny\.jsonl:1: label: missing field/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);
});

describe('wgrad serve --api (cli/serve-api.ts mounted on cli/server)', () => {
  it('mounts the API only with --api, refuses a public host without a token, and answers health before the static files', async () => {
    const { apiRoutes } = await import('../../cli/serve-api.ts');
    const { startServer } = await import('../../cli/server/server.ts');
    expect(await apiRoutes({})).toEqual([]);
    await expect(apiRoutes({ api: true, host: '0.0.0.0', jobsDir: join(tmp, 'j4') })).rejects.toThrow('binding to 0.0.0.0 exposes training to the network');
    const root = join(tmp, 'static');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'index.html'), '<p>app</p>');
    const server = await startServer({ root, port: 0, routes: await apiRoutes({ api: true, jobsDir: join(tmp, 'j5'), device: 'cpu' }) });
    try {
      expect(await (await fetch(`${server.url}api/v1/health`)).json()).toMatchObject({ ok: true, backend: 'local', device: 'cpu' });
      expect(await (await fetch(`${server.url}index.html`)).text()).toBe('<p>app</p>'); // not an API route: the static files answer
    } finally { await server.close(); }
  });
});
