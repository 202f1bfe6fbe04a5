// The one training loop every method uses: gradient accumulation, LR schedule, global-norm
// clipping, periodic eval, metrics as JSONL, atomic checkpoints and exact resume.
import { appendTextFile, dirName, makeDir } from '../io/node-fs.ts';
import type { Batch } from '../data/collate.ts';
import type { IteratorState } from '../data/iterator.ts';
import { noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { mul, reshape, stack } from '../../engine/ops/index.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import type { Optimizer } from '../../engine/optim/optimizer.ts';
import { clipGradNorm } from '../../engine/optim/clip.ts';
import { lrAt, type ScheduleKind } from '../../engine/optim/schedule.ts';
import type { Generator } from '../../engine/random.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import type { MethodOutput } from './sft.ts';

/** Where training batches come from (a BatchIterator): resumable from the state it reports. */
export interface SyncBatchSource {
  next(): (Batch & { epoch?: number }) | null;
  state(): IteratorState;
}

/** A batch source that may produce its batches asynchronously (GRPO samples them from the model). */
export interface BatchSource {
  next(): ReturnType<SyncBatchSource['next']> | Promise<ReturnType<SyncBatchSource['next']>>;
  state(): IteratorState;
}

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number | null;
  tokens: number;
  tokens_per_second: number;
  epoch: number;
  [metric: string]: number | null;
}

export interface TrainerOptions {
  model: LlamaForCausalLM;
  /** Trainable parameters by name (LoRA weights, or all of them for full fine-tuning). */
  params: [string, Tensor][];
  method: (model: LlamaForCausalLM, batch: Batch) => MethodOutput;
  /**
   * What the loss is averaged over: a batch's count of it (default: its loss tokens, as TRL's SFT
   * num_items_in_batch; preference methods count pairs or examples).
   */
  units?: (batch: Batch) => number;
  optimizer: Optimizer;
  baseLr: number;
  schedule?: ScheduleKind;
  warmupSteps?: number;
  maxSteps: number;
  gradAccum?: number;
  /** Global-norm clip; Infinity measures the norm without clipping. */
  maxGradNorm?: number;
  train: (state?: IteratorState) => BatchSource;
  /** Held-out batches (GRPO samples its own completions for them, hence async). */
  eval?: { batches: () => Iterable<Batch> | AsyncIterable<Batch>; every: number };
  /** keep: the newest N checkpoints stay, older ones are removed (TRL's save_total_limit). */
  checkpoints?: { dir: string; every: number; keep?: number };
  /**
   * Stops the run after the step in progress (SIGINT, a divergence), writing a checkpoint of that
   * step unless the abort reason says `{ checkpoint: false }` (the last one written is the good one).
   */
  signal?: AbortSignal;
  metricsPath?: string;
  /** Generators whose state belongs in checkpoints (LoRA dropout, ...). */
  rngs?: Record<string, Generator>;
  /** Awaited before the next step, so a caller can pause a run (the web app's worker does). */
  onStep?: (r: StepRecord) => void | Promise<void>;
  onEval?: (r: EvalRecord) => void;
}

export interface EvalRecord { step: number; eval_loss: number; [metric: string]: number }

export class Trainer {
  step = 0;
  /** The newest evaluation (logged to metrics.jsonl as well). */
  lastEval: EvalRecord | null = null;
  private data!: BatchSource;

  constructor(readonly o: TrainerOptions) {
    const bad = o.params.filter(([, p]) => !p.requiresGrad);
    if (bad.length) throw new Error(`trainer: parameters ${bad.slice(0, 3).map(([n]) => n).join(', ')} do not require grad`);
  }

  /** Resume from the newest checkpoint in checkpoints.dir when `resume` is set and one exists. */
  async run(opts: { resume?: boolean } = {}): Promise<StepRecord[]> {
    const o = this.o;
    let dataState: IteratorState | undefined;
    if (opts.resume && o.checkpoints) {
      const latest = await latestCheckpoint(o.checkpoints.dir);
      if (latest) dataState = await this.restore(latest);
    }
    this.data = o.train(dataState);
    const records: StepRecord[] = [];
    const accum = o.gradAccum ?? 1;
    while (this.step < o.maxSteps) {
      const t0 = performance.now();
      const window: (Batch & { epoch?: number })[] = [];
      for (let i = 0; i < accum; i++) {
        const b = await this.data.next();
        if (b) window.push(b);
      }
      if (!window.length) break; // data exhausted
      const rec = await this.trainStep(window, t0);
      records.push(rec);
      await this.log(rec);
      await o.onStep?.(rec);
      if (o.eval && this.step % o.eval.every === 0) await this.evaluate();
      const stopping = !!o.signal?.aborted;
      const keep = !(stopping && (o.signal!.reason as { checkpoint?: boolean } | undefined)?.checkpoint === false);
      if (o.checkpoints && keep && (stopping || this.step % o.checkpoints.every === 0 || this.step === o.maxSteps)) await this.save();
      if (stopping) break;
    }
    return records;
  }

  private async trainStep(window: (Batch & { epoch?: number })[], t0: number): Promise<StepRecord> {
    const o = this.o;
    const units = window.map((b) => this.units(b));
    // Normalise by every counted unit in the accumulation window (TRL's num_items_in_batch).
    const total = units.reduce((s, u) => s + u, 0);
    const outs: BatchValues[] = [];
    for (const b of window) {
      outs.push(tidy(() => {
        const out = o.method(o.model, b);
        mul(out.lossSum, 1 / Math.max(total, 1)).backward();
        return noGrad(() => batchValues(out));
      }));
    }
    const norm = clipGradNorm(o.params.map(([, p]) => p), o.maxGradNorm ?? Infinity);
    const lr = lrAt(this.step, { kind: o.schedule ?? 'constant', baseLr: o.baseLr, warmupSteps: o.warmupSteps, totalSteps: o.maxSteps });
    o.optimizer.lr = lr;
    o.optimizer.step();
    o.optimizer.zeroGrad();
    const { loss, metrics } = await readValues(outs, units);
    const gradNorm = await norm.item();
    norm.dispose();
    this.step++;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new Error(`trainer: loss is ${loss} (grad norm ${gradNorm}) at step ${this.step}; lower the learning rate or check the data` +
        (o.checkpoints ? `; the last checkpoint in ${o.checkpoints.dir} is intact` : ''));
    }
    const seconds = (performance.now() - t0) / 1000;
    const tokens = window.reduce((s, b) => s + b.shape[0] * b.shape[1], 0);
    return { step: this.step, loss, lr, grad_norm: gradNorm, tokens, tokens_per_second: tokens / seconds, epoch: window[window.length - 1].epoch ?? 0, ...metrics };
  }

  private units(b: Batch): number {
    return this.o.units ? this.o.units(b) : b.lossTokens;
  }

  /** Loss (and the method's metrics) averaged over the eval batches (default: the configured eval data). */
  async evaluate(batches?: Iterable<Batch> | AsyncIterable<Batch>): Promise<number> {
    const o = this.o;
    const data = batches ?? o.eval?.batches();
    if (!data) throw new Error('trainer: no eval data');
    const outs: BatchValues[] = [], units: number[] = [];
    for await (const b of data) {
      outs.push(noGrad(() => tidy(() => batchValues(o.method(o.model, b)))));
      units.push(this.units(b));
    }
    const { loss, metrics } = await readValues(outs, units);
    const r: EvalRecord = { step: this.step, eval_loss: loss };
    for (const [k, v] of Object.entries(metrics)) r[`eval_${k}`] = v;
    this.lastEval = r;
    await this.log(r);
    o.onEval?.(r);
    return r.eval_loss;
  }

  private async log(r: object): Promise<void> {
    if (!this.o.metricsPath) return;
    await makeDir(dirName(this.o.metricsPath));
    await appendTextFile(this.o.metricsPath, JSON.stringify(r) + '\n');
  }

  private async save(): Promise<void> {
    const o = this.o;
    const rng = Object.fromEntries(Object.entries(o.rngs ?? {}).map(([k, g]) => [k, g.getState()]));
    await saveCheckpoint(o.checkpoints!.dir, o.params, o.optimizer.stateEntries(), { step: this.step, data: this.data.state(), rng }, o.checkpoints!.keep);
  }

  private async restore(path: string): Promise<IteratorState> {
    const o = this.o;
    const ck = await loadCheckpoint(path, o.model.backend);
    for (const [name, p] of o.params) {
      const v = ck.weights.get(name);
      if (!v) throw new Error(`resume: ${path} has no weights for ${name}`);
      p.assign(v);
    }
    o.optimizer.loadStateEntries(ck.optimizer, ck.state.step);
    for (const [k, g] of Object.entries(o.rngs ?? {})) {
      if (!ck.state.rng[k]) throw new Error(`resume: ${path} has no RNG state for ${k}`);
      g.setState(ck.state.rng[k]);
    }
    for (const t of [...ck.weights.values(), ...ck.optimizer.values()]) t.dispose();
    this.step = ck.state.step;
    return ck.state.data as IteratorState;
  }
}

/** One micro-batch's summed loss and metrics, stacked so one read fetches them all. */
interface BatchValues { names: string[]; values: Tensor }

function batchValues(out: MethodOutput): BatchValues {
  const names = Object.keys(out.metrics ?? {});
  const values = stack([reshape(out.lossSum, []), ...names.map((k) => reshape(out.metrics![k], []))]);
  return { names, values };
}

/** Loss = Σ lossSum / Σ units; each metric (a batch mean) averaged with the unit weights of the batches that have it (a KTO batch without undesirable examples has no rewards/rejected). */
async function readValues(outs: BatchValues[], units: number[]): Promise<{ loss: number; metrics: Record<string, number> }> {
  const total = units.reduce((s, u) => s + u, 0);
  let lossSum = 0;
  const sums: Record<string, number> = {}, weights: Record<string, number> = {};
  for (let i = 0; i < outs.length; i++) {
    const v = await outs[i].values.data();
    outs[i].values.dispose();
    lossSum += v[0];
    outs[i].names.forEach((k, j) => {
      sums[k] = (sums[k] ?? 0) + v[j + 1] * units[i];
      weights[k] = (weights[k] ?? 0) + units[i];
    });
  }
  const metrics: Record<string, number> = {};
  for (const k of Object.keys(sums)) metrics[k] = sums[k] / Math.max(weights[k], 1e-30);
  return { loss: lossSum / Math.max(total, 1), metrics };
}
