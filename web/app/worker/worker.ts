// The training worker (a module Web Worker, driven by the page through comlink). It installs a
// file system (memory for the picked model and data, the Origin Private File System under /opfs
// for runs) and then runs the toolkit unchanged: loadLlama, the data parsers, runTraining with its
// checkpoints and exact resume, saveAdapter, generate. The page never blocks on any of it.
import * as Comlink from 'comlink';
import {
  checkTrainOptions, generate, latestCheckpointStep, MemoryFileSystem, runTraining, setFileSystem, trainSettingsFromOptions, optionValue,
  type LlamaForCausalLM, type Tokenizer,
} from '../../../llm/index.ts';
import type { Backend, LoRALinear } from '../../../engine/index.ts';
import { MountFileSystem, OPFS_MOUNT } from '../mount-fs.ts';
import { OpfsFileSystem } from '../opfs-fs.ts';
import type { DataPreview, DeviceInfo, GenerateResult, MemoryEstimate, ModelInfo, ModelSource, RunEvent, RunSummary, SavedRun } from '../protocol.ts';
import { DATA_DIR, previewData } from './data.ts';
import { startBackend } from './device.ts';
import { toYaml } from '../config-yaml.ts';
import { exportZip, type ExportKind } from './export.ts';
import { estimateMemory, fetchModelFiles, loadModel, MODEL_DIR, modelInfo, putModelFiles } from './model.ts';

const RUN_DIR = `${OPFS_MOUNT}/runs/current`;
const RUN_FILE = `${RUN_DIR}/run.json`;

const memory = new MemoryFileSystem();
let fs: MountFileSystem;
let backend: Backend | null = null;
let device: DeviceInfo | null = null;
let model: LlamaForCausalLM | null = null;
let tokenizer: Tokenizer | null = null;
let source: ModelSource | null = null;
let data: { name: string; path: string } | null = null;
let lora: Map<string, LoRALinear> | null = null;
let training = false;
let paused: { resolve: () => void; promise: Promise<void> } | null = null;
let stopper: AbortController | null = null;

async function ready(): Promise<void> {
  if (fs) return;
  let opfs: OpfsFileSystem | null = null;
  try { opfs = await OpfsFileSystem.open(); } catch { opfs = null; }
  fs = new MountFileSystem(memory, opfs);
  setFileSystem(fs);
}

function need<T>(v: T | null, what: string): T {
  if (v === null) throw new Error(`${what} first`);
  return v;
}

async function readJson<T>(path: string): Promise<T | null> {
  return (await fs.stat(path)) ? (JSON.parse(new TextDecoder().decode(await fs.readFile(path))) as T) : null;
}

const api = {
  async init(choice: 'auto' | 'webgpu' | 'cpu'): Promise<DeviceInfo> {
    await ready();
    backend?.destroy();
    const started = await startBackend(choice);
    backend = started.backend;
    device = started.info;
    return device;
  },

  async loadModelFromUrl(base: string): Promise<ModelInfo> {
    await memory.rm(MODEL_DIR);
    await fetchModelFiles(memory, base.endsWith('/') ? base : `${base}/`);
    return api.finishModel({ kind: 'url', base });
  },

  async loadModelFromFiles(files: File[]): Promise<ModelInfo> {
    await memory.rm(MODEL_DIR);
    return api.finishModel({ kind: 'files', files: putModelFiles(memory, files) });
  },

  async finishModel(src: ModelSource): Promise<ModelInfo> {
    const b = need(backend, 'start a backend (init)');
    model?.dispose();
    model = null;
    lora = null;
    const loaded = await loadModel(b);
    model = loaded.model;
    tokenizer = loaded.tokenizer;
    source = src;
    return modelInfo(model, src, device?.limits ?? {});
  },

  async loadData(file: File, options: Record<string, unknown>): Promise<DataPreview> {
    await memory.rm(DATA_DIR);
    const path = `${DATA_DIR}/${file.name}`;
    memory.put(path, file);
    data = { name: file.name, path };
    return previewData(path, file.name, need(tokenizer, 'load a model'), checkTrainOptions(options, 'settings'), need(model, 'load a model').config.maxPositions);
  },

  estimate(options: Record<string, unknown>): MemoryEstimate {
    return estimateMemory(need(model, 'load a model'), checkTrainOptions(options, 'settings'));
  },

  /** Starts a new run (resume false) or continues the saved one; resolves when it ends. */
  async train(options: Record<string, unknown>, resume: boolean, onEvent: (e: RunEvent) => void): Promise<RunSummary> {
    if (training) throw new Error('a run is already going');
    const m = need(model, 'load a model');
    const tok = need(tokenizer, 'load a model');
    const saved = resume ? need(await api.savedRun(), 'a saved run to resume') : null;
    // A resumed run continues with the settings it was started with.
    const v = checkTrainOptions(saved ? saved.options : options, 'settings');
    if (lora) throw new Error('this model already carries a trained adapter; load the model again to start another run');
    let dataPath: string;
    if (saved) {
      dataPath = `${RUN_DIR}/data/${saved.data.name}`;
    } else {
      const d = need(data, 'drop a data file');
      const est = estimateMemory(m, v);
      const quota = await navigator.storage?.estimate?.();
      const dataBytes = (await fs.stat(d.path))?.size ?? 0;
      if (quota?.quota !== undefined && quota.usage !== undefined && quota.quota - quota.usage < est.checkpoint + dataBytes) {
        throw new Error(`not enough browser storage for checkpoints: need ${est.checkpoint + dataBytes} bytes, ${quota.quota - quota.usage} free of ${quota.quota}`);
      }
      const limit = device?.limits.maxStorageBufferBindingSize;
      const biggest = m.config.vocabSize * m.config.hiddenSize * 4;
      if (limit !== undefined && biggest > limit) throw new Error(`this model's embedding needs a ${biggest}-byte buffer; this adapter allows ${limit}`);
      await fs.rm(RUN_DIR);
      await fs.mkdir(`${RUN_DIR}/data`);
      dataPath = `${RUN_DIR}/data/${d.name}`;
      await fs.writeFile(dataPath, await fs.readFile(d.path));
      const run: SavedRun = { options: v, model: need(source, 'load a model'), data: { name: d.name }, step: 0, maxSteps: optionValue(v, 'max-steps') as number, finished: false };
      await fs.writeFile(RUN_FILE, JSON.stringify(run));
    }
    training = true;
    stopper = new AbortController();
    try {
      const settings = trainSettingsFromOptions(v, 'settings', { data: dataPath, outputDir: RUN_DIR, resume, maxPositions: m.config.maxPositions });
      const r = await runTraining(m, tok, settings, {
        onStep: async (record) => {
          onEvent({ type: 'step', record, memoryBytes: m.backend.memoryStats().liveBytes });
          if (paused) {
            onEvent({ type: 'state', state: 'paused' });
            await paused.promise;
            onEvent({ type: 'state', state: 'running' });
          }
        },
        onEval: (record) => onEvent({ type: 'eval', record }),
        // Full fine-tuning with DPO/KTO: a frozen copy of the base, from the same files.
        loadReference: async () => (await loadModel(m.backend)).model,
        signal: stopper.signal,
        log: (text) => onEvent({ type: 'log', text }),
      });
      lora = r.lora;
      const last = r.records[r.records.length - 1];
      const finished = r.trainer.step >= settings.maxSteps;
      const run = await readJson<SavedRun>(RUN_FILE);
      if (run) await fs.writeFile(RUN_FILE, JSON.stringify({ ...run, finished }));
      return { steps: r.trainer.step, finalLoss: last?.loss ?? null, evalLoss: r.evalLoss, stopped: !finished };
    } finally {
      training = false;
      paused = null;
      stopper = null;
    }
  },

  pause(): void {
    if (!paused) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => { resolve = r; });
      paused = { resolve, promise };
    }
  },

  resume(): void {
    paused?.resolve();
    paused = null;
  },

  /** Ends the run after the current step, with a checkpoint of it. */
  stop(): void {
    stopper?.abort({ checkpoint: true });
    api.resume();
  },

  /** The run in the Origin Private File System, if any, with its newest checkpoint's step. */
  async savedRun(): Promise<SavedRun | null> {
    await ready();
    let run: SavedRun | null;
    try { run = await readJson<SavedRun>(RUN_FILE); } catch { return null; }
    if (!run) return null;
    return { ...run, step: await latestCheckpointStep(`${RUN_DIR}/checkpoints`) };
  },

  async discardRun(): Promise<void> {
    await ready();
    await fs.rm(RUN_DIR);
  },

  async metrics(): Promise<Uint8Array> {
    await ready();
    const p = `${RUN_DIR}/metrics.jsonl`;
    if (!(await fs.stat(p))) throw new Error('no metrics yet: train first');
    return fs.readFile(p);
  },

  async exportZip(kind: ExportKind): Promise<Uint8Array> {
    const m = need(model, 'train a model');
    const run = need(await readJson<SavedRun>(RUN_FILE), 'train a model');
    const metrics = (await fs.stat(`${RUN_DIR}/metrics.jsonl`)) ? await fs.readFile(`${RUN_DIR}/metrics.jsonl`) : null;
    const modelName = run.model.kind === 'url' ? run.model.base : 'MODEL_DIR';
    const zip = await exportZip(fs, kind, m, m.backend, { metrics, config: toYaml(run.options, modelName, run.data.name), baseModel: modelName });
    return Comlink.transfer(zip, [zip.buffer]);
  },

  /** The same prompt with the adapter on and off (greedy unless temperature > 0). */
  async generate(prompt: string, maxNewTokens: number, temperature: number): Promise<GenerateResult> {
    const m = need(model, 'load a model');
    const tok = need(tokenizer, 'load a model');
    const ids = tok.encode(prompt, { addBos: true });
    const run = async () => tok.decode((await generate(m, [ids], { maxNewTokens, temperature, seed: 0, stopTokens: [...tok.stopIds] }))[0]);
    const layers = lora ? [...lora.values()] : [];
    layers.forEach((l) => { l.training = false; });
    try {
      const withAdapter = await run();
      if (!layers.length) return { withAdapter, withoutAdapter: null };
      layers.forEach((l) => { l.enabled = false; });
      return { withAdapter, withoutAdapter: await run() };
    } finally {
      layers.forEach((l) => { l.enabled = true; l.training = true; });
    }
  },
};

export type WorkerApi = typeof api;
Comlink.expose(api);
