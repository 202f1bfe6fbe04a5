// A local stand-in for Together's and OpenAI's fine-tuning APIs (node:http on 127.0.0.1), built
// from their documented endpoints and status lifecycles (the SDKs' resources/fine-tuning*.ts):
//   Together  POST /files (form: file_name, file_type, purpose) → 302 Location + X-Together-File-Id,
//             PUT <Location>, GET /files/{id}; POST /fine-tunes, GET /fine-tunes[/{id}[/events|/metrics]],
//             POST /fine-tunes/{id}/cancel, POST /fine-tunes/estimate-price, GET /finetune/download
//             status pending → queued → running → uploading → completed
//   OpenAI    POST /files (multipart), POST /fine_tuning/jobs, GET /fine_tuning/jobs[/{id}[/events|/checkpoints]],
//             POST /fine_tuning/jobs/{id}/cancel|pause|resume
//             status validating_files → queued → running → succeeded
// Each job advances one state per status request. Uploaded rows are checked against the provider's
// documented format for the job's method (a 400 names the line), so the tests prove the conversion.
// `fail()` queues faults (429 with Retry-After, 500, ...); `requests` records every call.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoRAAdapter } from '../../llm/adapters/adapter.ts';
import { writePeft } from '../../llm/adapters/peft.ts';

export interface Recorded { method: string; path: string; auth: string | undefined; at: number }
interface Fault { method: string; path: RegExp; status: number; times: number; headers: Record<string, string> }
interface StoredFile { id: string; name: string; bytes: Buffer; purpose: string }
interface FakeJob { id: string; provider: 'together' | 'openai'; method: string; states: string[]; at: number; body: Record<string, unknown>; events: Record<string, unknown>[]; created: number }

const TOGETHER_STATES = ['pending', 'queued', 'running', 'uploading', 'completed'];
const OPENAI_STATES = ['validating_files', 'queued', 'running', 'succeeded'];

export interface ContractServer {
  url: string;
  togetherUrl: string;
  openaiUrl: string;
  requests: Recorded[];
  jobs: Map<string, FakeJob>;
  files: Map<string, StoredFile>;
  fail(method: string, path: RegExp, status: number, times?: number, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

export async function startContractServer(o: { key: string; adapter: LoRAAdapter }): Promise<ContractServer> {
  const { config, weights } = writePeft(o.adapter);
  const opts = { key: o.key, adapterTar: tarOf({ 'adapter/adapter_config.json': JSON.stringify(config), 'adapter/adapter_model.safetensors': weights }) };
  const requests: Recorded[] = [];
  const faults: Fault[] = [];
  const files = new Map<string, StoredFile>();
  const jobs = new Map<string, FakeJob>();
  let seq = 0;
  let url = '';

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) => send(res, status, { error: { message, type: 'invalid_request_error' } }, headers);
  const readBody = (req: IncomingMessage) => new Promise<Buffer>((resolve) => { const c: Buffer[] = []; req.on('data', (d) => c.push(d)); req.on('end', () => resolve(Buffer.concat(c))); });

  /** The uploaded rows checked against the provider's format for the method; the first bad line's message, or null. */
  function checkRows(file: StoredFile, method: string): string | null {
    const lines = file.bytes.toString('utf8').split('\n').filter((l) => l.trim());
    for (const [i, line] of lines.entries()) {
      let row: Record<string, unknown>;
      try { row = JSON.parse(line); } catch { return `line ${i + 1}: not JSON`; }
      const msgs = (m: unknown) => Array.isArray(m) && m.length > 0 && m.every((x) => x && typeof x.role === 'string' && typeof x.content === 'string');
      if (method === 'dpo') {
        const input = row.input as Record<string, unknown> | undefined;
        if (!input || !msgs(input.messages)) return `line ${i + 1}: input.messages must be a message list`;
        for (const k of ['preferred_output', 'non_preferred_output']) {
          const out = row[k];
          if (!msgs(out) || !(out as { role: string }[]).every((m) => m.role === 'assistant')) return `line ${i + 1}: ${k} must be a list of assistant messages`;
        }
      } else if (!msgs(row.messages) && typeof row.text !== 'string') return `line ${i + 1}: expected "messages"`;
    }
    return lines.length ? null : 'empty file';
  }

  function togetherJob(j: FakeJob) {
    const status = j.states[j.at];
    return { id: j.id, status, user_id: 'user', model: j.body.model, created_at: new Date(j.created).toISOString(), training_file: j.body.training_file, model_output_name: status === 'completed' ? `user/${j.body.model}-ft` : undefined, events: j.events };
  }
  function openaiJob(j: FakeJob) {
    const status = j.states[j.at];
    return {
      id: j.id, object: 'fine_tuning.job', status, model: j.body.model, created_at: Math.floor(j.created / 1000), finished_at: null, error: null,
      fine_tuned_model: status === 'succeeded' ? `ft:${j.body.model}:org::${j.id.slice(-6)}` : null, hyperparameters: {}, organization_id: 'org',
      result_files: [], seed: 0, trained_tokens: null, training_file: j.body.training_file, validation_file: j.body.validation_file ?? null, method: j.body.method,
    };
  }
  /** One step of the lifecycle per status request, with the events a provider writes on the way. */
  function advance(j: FakeJob) {
    if (j.at < j.states.length - 1 && !['cancelled', 'paused'].includes(j.states[j.at])) j.at++;
    const s = j.states[j.at];
    const ts = Date.now();
    if (j.provider === 'together') {
      j.events.push({ object: 'fine-tune-event', created_at: new Date(ts + j.events.length).toISOString(), type: s === 'running' ? 'training_start' : s === 'completed' ? 'job_complete' : 'job_pending', message: `job is ${s}`, level: 'info', ...(s === 'running' ? { step: 2, total_steps: 4 } : {}) });
    } else {
      j.events.push({ id: `ftevent-${++seq}`, object: 'fine_tuning.job.event', created_at: Math.floor(ts / 1000), level: 'info', message: `Job is ${s}`, type: 'message' });
      if (s === 'running') {
        for (const step of [1, 2]) j.events.push({ id: `ftevent-${++seq}`, object: 'fine_tuning.job.event', created_at: Math.floor(ts / 1000), level: 'info', message: `Step ${step}/2: training loss=${(2 / step).toFixed(2)}`, type: 'metrics', data: { step, train_loss: 2 / step, valid_loss: 2.5 / step, train_mean_token_accuracy: 0.3 * step, total_steps: 2 } });
      }
    }
  }

  const server = createServer(async (req, res) => {
    const u = new URL(req.url!, url);
    const path = u.pathname;
    const method = req.method!;
    requests.push({ method, path, auth: req.headers.authorization, at: Date.now() });
    const fault = faults.find((f) => f.method === method && f.path.test(path) && f.times > 0);
    if (fault) {
      fault.times--;
      await readBody(req);
      return error(res, fault.status, fault.status === 429 ? 'Rate limit reached' : 'The server had an error', fault.headers);
    }
    // The presigned upload target: no API key (as an object-store URL).
    const put = /^\/together\/upload\/(.+)$/.exec(path);
    if (put && method === 'PUT') {
      const f = files.get(put[1]);
      if (!f) return error(res, 404, 'no such upload');
      f.bytes = await readBody(req);
      return send(res, 200, {});
    }
    if (req.headers.authorization !== `Bearer ${opts.key}`) { await readBody(req); return error(res, 401, 'Invalid API key provided'); }
    const body = await readBody(req);
    const json = () => JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    let m: RegExpExecArray | null;

    // ---- Together (/together/v1) ----
    if (path === '/together/v1/files' && method === 'POST') {
      const q = u.searchParams;
      if (q.get('purpose') !== 'fine-tune' || !['jsonl', 'parquet', 'csv'].includes(q.get('file_type') ?? '')) return error(res, 400, 'purpose must be fine-tune and file_type jsonl, parquet or csv');
      const id = `file-${++seq}`;
      files.set(id, { id, name: q.get('file_name') ?? '', bytes: Buffer.alloc(0), purpose: 'fine-tune' });
      res.writeHead(302, { location: `${url}/together/upload/${id}`, 'x-together-file-id': id });
      return res.end();
    }
    if ((m = /^\/together\/v1\/files\/([^/]+)$/.exec(path)) && method === 'GET') {
      const f = files.get(m[1]);
      return f ? send(res, 200, { id: f.id, object: 'file', filename: f.name, bytes: f.bytes.length, purpose: f.purpose, created_at: 0, FileType: 'jsonl', LineCount: 0, Processed: true }) : error(res, 404, 'file not found');
    }
    if (path === '/together/v1/fine-tunes/estimate-price' && method === 'POST') {
      const b = json();
      const f = files.get(String(b.training_file));
      if (!f) return error(res, 404, 'training file not found');
      const tokens = Math.ceil(f.bytes.length / 4) * Number(b.n_epochs ?? 1);
      return send(res, 200, { estimation_available: true, allowed_to_proceed: true, estimated_total_price: tokens * 1e-6, estimated_train_token_count: tokens, user_limit: 100 });
    }
    if (path === '/together/v1/fine-tunes' && method === 'POST') {
      const b = json();
      const f = files.get(String(b.training_file));
      if (!f) return error(res, 404, `training_file ${b.training_file} not found`);
      const tm = (b.training_method ?? { method: 'sft' }) as { method: string };
      const bad = checkRows(f, tm.method);
      if (bad) return error(res, 400, `training file ${f.id}: ${bad}`);
      const id = `ft-${++seq}`;
      jobs.set(id, { id, provider: 'together', method: tm.method, states: [...TOGETHER_STATES], at: 0, body: b, events: [], created: Date.now() });
      return send(res, 200, togetherJob(jobs.get(id)!));
    }
    if (path === '/together/v1/fine-tunes' && method === 'GET') return send(res, 200, { data: [...jobs.values()].filter((j) => j.provider === 'together').map(togetherJob) });
    if ((m = /^\/together\/v1\/fine-tunes\/([^/]+)(\/[a-z]+)?$/.exec(path))) {
      const j = jobs.get(m[1]);
      if (!j || j.provider !== 'together') return error(res, 404, `fine-tune job ${m[1]} not found`);
      const sub = m[2];
      if (!sub && method === 'GET') { advance(j); return send(res, 200, togetherJob(j)); }
      if (sub === '/events') return send(res, 200, { data: j.events });
      if (sub === '/metrics') {
        const train = [1, 2, 3, 4].map((s) => ({ timestamp: 1779196193564587000 + s, 'train/global_step': s, 'train/epoch': s / 4, 'train/loss': 3 - s / 2, 'train/grad_norm': 1.5, 'train/learning_rate': 1e-5 }));
        return send(res, 200, { metrics: [...train, { timestamp: 1779196193564587009, 'eval/global_step': 4, 'eval/loss': 1.25 }] });
      }
      if (sub === '/checkpoints') return send(res, 200, { data: [{ checkpoint_type: 'Final', created_at: '', path: 'p', step: 4, checkpoint: 'adapter' }] });
      if (sub === '/cancel' && method === 'POST') { j.states[j.at] = 'cancelled'; j.states.length = j.at + 1; return send(res, 200, togetherJob(j)); }
    }
    if (path === '/together/v1/finetune/download' && method === 'GET') {
      const j = jobs.get(u.searchParams.get('ft_id') ?? '');
      if (!j || j.states[j.at] !== 'completed') return error(res, 404, 'no completed fine-tune with that ft_id');
      const kind = u.searchParams.get('checkpoint');
      if (kind !== 'adapter' && kind !== 'merged') return error(res, 400, 'checkpoint must be adapter or merged');
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // merged: a stand-in model folder (the adapter tests check the unpacking, not the weights).
      return res.end(Buffer.from(kind === 'adapter' ? opts.adapterTar : tarOf({ 'model/config.json': '{"model_type": "llama"}' })));
    }

    // ---- OpenAI (/openai/v1) ----
    if (path === '/openai/v1/files' && method === 'POST') {
      const form = await new Response(new Uint8Array(body), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const file = form.get('file') as File | null;
      if (form.get('purpose') !== 'fine-tune' || !file) return error(res, 400, "multipart with 'file' and purpose 'fine-tune' expected");
      const id = `file-${++seq}`;
      files.set(id, { id, name: file.name, bytes: Buffer.from(await file.arrayBuffer()), purpose: 'fine-tune' });
      return send(res, 200, { id, object: 'file', bytes: file.size, created_at: 0, filename: file.name, purpose: 'fine-tune', status: 'processed' });
    }
    if (path === '/openai/v1/fine_tuning/jobs' && method === 'POST') {
      const b = json();
      const f = files.get(String(b.training_file));
      if (!f) return error(res, 400, `invalid training_file: ${b.training_file}`);
      const type = (b.method as { type?: string } | undefined)?.type ?? 'supervised';
      if (type === 'reinforcement' && !(b.method as { reinforcement?: { grader?: unknown } }).reinforcement?.grader) return error(res, 400, 'reinforcement needs a grader');
      const bad = checkRows(f, type === 'dpo' ? 'dpo' : 'sft');
      if (bad) return error(res, 400, `training file ${f.id}: ${bad}`);
      const id = `ftjob-${++seq}`;
      jobs.set(id, { id, provider: 'openai', method: type, states: [...OPENAI_STATES], at: 0, body: b, events: [], created: Date.now() });
      return send(res, 200, openaiJob(jobs.get(id)!));
    }
    if (path === '/openai/v1/fine_tuning/jobs' && method === 'GET') return send(res, 200, { object: 'list', data: [...jobs.values()].filter((j) => j.provider === 'openai').map(openaiJob), has_more: false });
    if ((m = /^\/openai\/v1\/fine_tuning\/jobs\/([^/]+)(\/[a-z]+)?$/.exec(path))) {
      const j = jobs.get(m[1]);
      if (!j || j.provider !== 'openai') return error(res, 404, `No such fine-tuning job: ${m[1]}`);
      const sub = m[2];
      if (!sub && method === 'GET') { advance(j); return send(res, 200, openaiJob(j)); }
      if (sub === '/events') return send(res, 200, { object: 'list', data: [...j.events].reverse(), has_more: false });
      if (sub === '/checkpoints') {
        const done = j.states[j.at] === 'succeeded';
        return send(res, 200, { object: 'list', has_more: false, data: done ? [{ id: 'ftckpt-1', object: 'fine_tuning.job.checkpoint', created_at: 0, fine_tuned_model_checkpoint: `ft:${j.body.model}:org::ckpt:step-2`, fine_tuning_job_id: j.id, step_number: 2, metrics: { step: 2, train_loss: 1, valid_loss: 1.25 } }] : [] });
      }
      if (sub === '/cancel' && method === 'POST') { j.states[j.at] = 'cancelled'; j.states.length = j.at + 1; return send(res, 200, openaiJob(j)); }
      if (sub === '/pause' && method === 'POST') { j.states.splice(j.at + 1, 0, 'paused'); j.at++; return send(res, 200, openaiJob(j)); }
      if (sub === '/resume' && method === 'POST') { j.states.splice(j.at, 1); j.at--; return send(res, 200, openaiJob(j)); }
    }
    return error(res, 404, `no route ${method} ${path}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, togetherUrl: `${url}/together/v1`, openaiUrl: `${url}/openai/v1`, requests, jobs, files,
    fail: (method, path, status, times = 1, headers = {}) => { faults.push({ method, path, status, times, headers }); },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A ustar archive of the given files (what providers send, before compression). */
export function tarOf(files: Record<string, Uint8Array | string>): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === 'string' ? new TextEncoder().encode(content) : content;
    const h = new Uint8Array(512);
    const put = (s: string, off: number) => h.set(new TextEncoder().encode(s), off);
    put(name, 0); put('0000644\0', 100); put('0000000\0', 108); put('0000000\0', 116);
    put(data.length.toString(8).padStart(11, '0') + '\0', 124); put('00000000000\0', 136);
    put('        ', 148); h[156] = 48; put('ustar\0', 257); put('00', 263);
    put(h.reduce((a, b) => a + b, 0).toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of blocks) { out.set(b, o); o += b.length; }
  return out;
}

/** A PEFT adapter for stories260K (5 layers, hidden 64, 4 KV heads of 8): q_proj 64→64, v_proj 64→32, r 2. */
export function servedAdapter(): LoRAAdapter {
  const modules = new Map<string, { A: { shape: [number, number]; data: Float32Array }; B: { shape: [number, number]; data: Float32Array } }>();
  let s = 1;
  const fill = (n: number) => Float32Array.from({ length: n }, () => Math.sin(s++) * 0.1);
  for (let l = 0; l < 5; l++) {
    modules.set(`model.layers.${l}.self_attn.q_proj`, { A: { shape: [2, 64], data: fill(128) }, B: { shape: [64, 2], data: fill(128) } });
    modules.set(`model.layers.${l}.self_attn.v_proj`, { A: { shape: [2, 64], data: fill(128) }, B: { shape: [32, 2], data: fill(64) } });
  }
  return { r: 2, alpha: 4, rslora: false, scale: 2, dropout: 0, modules, numLayers: 5, baseModel: 'togethercomputer/stories260K' };
}

