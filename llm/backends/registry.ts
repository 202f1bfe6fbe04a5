// Training backends register themselves by name (each module calls registerBackend when imported;
// llm/backends/index.ts imports them all). Selection order: --backend, the YAML config's
// `backend:` section, $WGRAD_BACKEND, else local. A compute device name (cpu, webgpu, auto) means the
// local backend on that device; http://HOST:PORT means a wgrad server (`wgrad serve --api`).
import { ConfigError, type TrainingBackend } from './protocol.ts';

export interface BackendOptions {
  /** local: the compute backend (default auto). */
  device?: 'cpu' | 'webgpu' | 'auto';
  /** Hosted and HTTP backends: the API's base URL (proxies, tests). */
  baseUrl?: string;
  /** Where keys and base URLs are read from (default process.env). Keys are never stored elsewhere. */
  env?: Record<string, string | undefined>;
  /** Hosted backends: how often to poll a running job, in ms (default 10 s, backing off to 60 s). */
  pollMs?: number;
  /** Hosted and HTTP backends: per-request timeout in ms and retries of 429/5xx/timeouts. */
  timeoutMs?: number;
  maxRetries?: number;
  /** HTTP backend: the server's token when it is bound beyond 127.0.0.1. */
  token?: string;
}

type Factory = (opts: BackendOptions) => TrainingBackend;
const factories = new Map<string, Factory>();

export function registerBackend(name: string, factory: Factory): void {
  factories.set(name, factory);
}

export function registeredBackends(): string[] {
  return [...factories.keys()];
}

const DEVICES = ['cpu', 'webgpu', 'auto'] as const;

/** The backend a name stands for: a registered name, a device (local), or an http(s) URL. */
export function createTrainingBackend(spec: string, opts: BackendOptions = {}): TrainingBackend {
  if ((DEVICES as readonly string[]).includes(spec)) return createTrainingBackend('local', { ...opts, device: spec as BackendOptions['device'] });
  if (/^https?:\/\//.test(spec)) return createTrainingBackend('http', { ...opts, baseUrl: spec });
  const f = factories.get(spec);
  if (!f) throw new ConfigError(`unknown backend "${spec}" (expected ${[...factories.keys()].filter((n) => n !== 'http').join(', ')}, cpu, webgpu, auto, or http://HOST:PORT)`);
  return f(opts);
}

/** A YAML `backend:` section: a name, or { type, device, base_url }. */
export function backendFromConfig(section: unknown, where: string): { spec: string; opts: BackendOptions } | null {
  if (section === undefined || section === null) return null;
  if (typeof section === 'string') return { spec: section, opts: {} };
  if (typeof section !== 'object' || Array.isArray(section)) throw new ConfigError(`${where}: backend: expected a name or a mapping {type, device, base_url}`);
  const s = section as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!['type', 'device', 'base_url', 'dtype'].includes(k)) throw new ConfigError(`${where}: backend.${k}: unknown key (expected type, device, base_url, dtype)`);
  if (typeof s.type !== 'string') throw new ConfigError(`${where}: backend.type: expected a backend name`);
  if (s.device !== undefined && !(DEVICES as readonly unknown[]).includes(s.device)) throw new ConfigError(`${where}: backend.device: expected ${DEVICES.join(', ')}, got ${JSON.stringify(s.device)}`);
  if (s.dtype !== undefined && s.dtype !== 'float32') throw new ConfigError(`${where}: backend.dtype: only float32 trains today, got ${JSON.stringify(s.dtype)}`);
  if (s.base_url !== undefined && typeof s.base_url !== 'string') throw new ConfigError(`${where}: backend.base_url: expected a URL`);
  return { spec: s.type, opts: { device: s.device as BackendOptions['device'], baseUrl: s.base_url as string | undefined } };
}

/** --backend, else the config's section, else $WGRAD_BACKEND, else local (on the auto device). */
export function selectTrainingBackend(sel: { flag?: string; config?: { spec: string; opts: BackendOptions } | null; env?: Record<string, string | undefined> }, opts: BackendOptions = {}): TrainingBackend {
  const env = sel.env ?? opts.env ?? process.env;
  if (sel.flag) return createTrainingBackend(sel.flag, { ...sel.config?.opts, ...opts, env });
  if (sel.config) return createTrainingBackend(sel.config.spec, { ...sel.config.opts, ...opts, env });
  if (env.WGRAD_BACKEND) return createTrainingBackend(env.WGRAD_BACKEND, { ...opts, env });
  return createTrainingBackend('local', { device: 'auto', ...opts, env });
}
