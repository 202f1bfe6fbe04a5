// The one training loop every method uses: gradient accumulation, LR schedule, global-norm
// clipping, periodic eval, metrics as JSONL, atomic checkpoints and exact resume.
import { appendTextFile, dirName, makeDir } from '../io/node-fs.ts';
import type { Batch } from '../data/collate.ts';
import type { IteratorState } from '../data/iterator.ts';
import { backward, noGrad } from '../../engine/autodiff.ts';
import { tidy } from '../../engine/memory.ts';
import { mul, reshape, stack } from '../../engine/ops/index.ts';
import type { LlamaForCausalLM } from '../models/llama/model.ts';
import type { Optimizer } from '../../engine/optim/optimizer.ts';
import { gradNormScale } from '../../engine/optim/clip.ts';
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
  /**
   * Awaited before the step after next is recorded (metrics are read one step late: step N's record
   * arrives once step N + 1 is queued), so a caller can pause a run (the web app's worker does).
   */
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
    // Metrics are read one step late: step N's loss and grad norm are copied for reading as soon as
    // its commands are recorded, and awaited only after step N + 1 is recorded, so the host records
    // while the GPU runs (no readback inside a step). So the non-finite check and onStep (and the
    // divergence monitor behind it) see step N after step N + 1 was queued; before an evaluation,
    // a checkpoint or a stop, the pending step is finished first, so a checkpoint is only written
    // after its step's loss was found finite. metrics.jsonl gets every step's exact values, in order.
    let pending: PendingStep | null = null;
    const finish = async () => {
      if (!pending) return;
      const p = pending;
      pending = null;
      const rec = await this.finishStep(p);
      records.push(rec);
      await this.log(rec);
      await o.onStep?.(rec);
    };
    try {
      while (this.step < o.maxSteps) {
        const t0 = performance.now();
        const window: (Batch & { epoch?: number })[] = [];
        for (let i = 0; i < accum; i++) {
          const b = await this.data.next();
          if (b) window.push(b);
        }
        if (!window.length) break; // data exhausted
        const next = this.trainStep(window, t0);
        await finish(); // the previous step, while this one's commands are queued
        pending = next;
        const evalDue = !!o.eval && this.step % o.eval.every === 0;
        const saveDue = !!o.checkpoints && this.step % o.checkpoints.every === 0;
        if (evalDue || saveDue || this.step === o.maxSteps || o.signal?.aborted) await finish();
        if (evalDue) await this.evaluate();
        const stopping = !!o.signal?.aborted;
        if (stopping) await finish();
        const keep = !(stopping && (o.signal!.reason as { checkpoint?: boolean } | undefined)?.checkpoint === false);
        if (o.checkpoints && keep && (stopping || saveDue || this.step === o.maxSteps)) await this.save();
        if (stopping) break;
      }
      await finish();
    } finally {
      // A step left pending by an error: its reads still settle (and free their tensors).
      if (pending) (pending as PendingStep).values.catch(() => {});
    }
    return records;
  }

  /** Record one optimizer step (backward over the window, clip, update) and start reading its metrics; nothing is awaited. */
  private trainStep(window: (Batch & { epoch?: number })[], t0: number): PendingStep {
    const o = this.o;
    const units = window.map((b) => this.units(b));
    // Normalise by every counted unit in the accumulation window (TRL's num_items_in_batch).
    const total = units.reduce((s, u) => s + u, 0);
    const outs: BatchValues[] = [];
    for (const b of window) {
      outs.push(tidy(() => {
        const out = o.method(o.model, b);
        // The values first: freeGraph disposes the forward's intermediates during backward.
        const values = noGrad(() => batchValues(out));
        backward(mul(out.lossSum, 1 / Math.max(total, 1)), null, { freeGraph: true });
        return values;
      }));
    }
    // The clip scale stays on the device: the optimizer's fused step multiplies the gradients by it.
    const { norm, scale } = gradNormScale(o.params.map(([, p]) => p), o.maxGradNorm ?? Infinity);
    const lr = lrAt(this.step, { kind: o.schedule ?? 'constant', baseLr: o.baseLr, warmupSteps: o.warmupSteps, totalSteps: o.maxSteps });
    o.optimizer.lr = lr;
    o.optimizer.step(Number.isFinite(o.maxGradNorm ?? Infinity) ? scale : null);
    o.optimizer.zeroGrad();
    scale.dispose();
    // Every read is started now, so each copy is queued right after this step's commands.
    const values = Promise.all([readValues(outs, units), norm.item()]).finally(() => norm.dispose());
    values.catch(() => {}); // awaited by finishStep; this keeps an early failure from being "unhandled"
    this.step++;
    const tokens = window.reduce((s, b) => s + b.shape[0] * b.shape[1], 0);
    return { step: this.step, lr, tokens, epoch: window[window.length - 1].epoch ?? 0, t0, values };
  }

  /** Wait for a recorded step's metrics; the non-finite check happens here, one step late. */
  private async finishStep(p: PendingStep): Promise<StepRecord> {
    const o = this.o;
    const [{ loss, metrics }, gradNorm] = await p.values;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new Error(`trainer: loss is ${loss} (grad norm ${gradNorm}) at step ${p.step}; lower the learning rate or check the data` +
        (o.checkpoints ? `; the last checkpoint in ${o.checkpoints.dir} is intact` : '') +
        ` (metrics are read one step late, so step ${p.step + 1} may have been queued; no checkpoint holds it)`);
    }
    // From the step's start to its values on the host: with the next step recorded meanwhile, this
    // is the step's latency; the steps overlap, so throughput is at least this.
    const seconds = (performance.now() - p.t0) / 1000;
    return { step: p.step, loss, lr: p.lr, grad_norm: gradNorm, tokens: p.tokens, tokens_per_second: p.tokens / seconds, epoch: p.epoch, ...metrics };
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

/** A step whose commands are recorded and whose metrics are being read back. */
interface PendingStep {
  step: number; lr: number; tokens: number; epoch: number; t0: number;
  values: Promise<[{ loss: number; metrics: Record<string, number> }, number]>;
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
  // All reads start before the first await (each queued behind the commands recorded so far).
  const reads = outs.map((o) => o.values.data().finally(() => o.values.dispose()));
  for (let i = 0; i < outs.length; i++) {
    const v = await reads[i];
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
