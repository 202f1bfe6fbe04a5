// The training-backend protocol: one shape for every place a run can train — this engine on webgpu
// or cpu (`local`), a wgrad server over HTTP, and hosted fine-tuning (`together`, `openai`). A
// backend is a plain object with these members (no base class); it declares what it can do as data
// (`capabilities`), checks a run config against that before anything starts or is paid for, starts
// or re-attaches to a job, reports progress as events and leaves its results in the output folder in
// one layout: metrics.jsonl, adapter/ (PEFT), adapter-mlx/ (mlx-lm), job.json.
import type { TrainSettings } from '../train/run.ts';
import type { PreferenceMethod } from '../train/preference.ts';

/** Every method the toolkit knows, local or hosted (rows of doctor's matrix). */
export type TrainingMethod = 'sft' | PreferenceMethod | 'reinforcement' | 'grpo' | 'rlvr' | 'abliteration' | 'steering';
export const TRAINING_METHODS: readonly TrainingMethod[] = ['sft', 'dpo', 'orpo', 'cpo', 'simpo', 'kto', 'reinforcement', 'grpo', 'rlvr', 'abliteration', 'steering'];

/** How well a backend runs a method: `yes`, `partial` (the note says how), `no` (the note says why). */
export type SupportLevel = 'yes' | 'partial' | 'no';
export interface MethodSupport { level: SupportLevel; note?: string }

/** The run options a backend may accept (TrainSettings' keys, plus the cloud's epochs/suffix/grader). */
export type RunOption = Exclude<keyof TrainSettings, 'method' | 'data' | 'outputDir' | 'resume'> | 'epochs' | 'suffix' | 'grader' | 'tokenizer' | 'warmupRatio' | 'lrMultiplier' | 'evals';

/** What a backend can do, declared as data; tests check it against what the backend really does. */
export interface Capabilities {
  methods: Record<TrainingMethod, MethodSupport>;
  /** LoRA, full fine-tuning, or both. */
  training: readonly ('lora' | 'full')[];
  /** Parameter/compute dtypes the backend trains in. */
  dtypes: readonly string[];
  /** Largest model it trains, in words ("the provider's list", "what fits the device's memory"). */
  largestModel: string;
  /** Data row shapes it accepts (before any conversion we do). */
  dataFormats: readonly string[];
  /** The run options it honours, each with the flag users know it by; anything else is refused. */
  options: Partial<Record<RunOption, string>>;
  /** What it returns: adapter folders, a hosted model id, or both. */
  results: string;
}

/** A run, as the user gave it: options left out take the backend's defaults. */
export interface RunConfig {
  method: TrainingMethod;
  /** Local and HTTP: a Hugging Face folder or llama2.c .bin (a path on the machine that trains). Cloud: the provider's model name. */
  model: string;
  /** Training data file (or folder), read by the local parsers before anything is sent anywhere. */
  data: string;
  outputDir: string;
  /** Only the options the user set (a backend refuses, by flag name, those it cannot honour). */
  options: Partial<Omit<TrainSettings, 'method' | 'data' | 'outputDir' | 'resume'>> & {
    /** Hosted fine-tuning counts passes over the data, not optimizer steps. */
    epochs?: number;
    /** Suffix of the hosted model's name. */
    suffix?: string;
    /** OpenAI reinforcement: the grader object, as OpenAI documents it. */
    grader?: Record<string, unknown>;
    tokenizer?: string;
    /** Share of the steps spent warming the learning rate up (Together's warmup_ratio). */
    warmupRatio?: number;
    /** OpenAI: a multiplier of the provider's own learning rate (learning_rate_multiplier). */
    lrMultiplier?: number;
    /** Evaluations on the validation data over the run (Together's n_evals). */
    evals?: number;
  };
}

export type JobStatus = 'queued' | 'running' | 'paused' | 'succeeded' | 'failed' | 'cancelled';
export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

/** What a job reports while it runs. Metric names are the local ones (loss, eval_loss, step, ...). */
export type JobEvent =
  | { type: 'status'; status: JobStatus; message?: string }
  | { type: 'progress'; step: number; totalSteps?: number }
  | { type: 'metrics'; record: Record<string, number>; /** train: an optimizer step's record; eval: an evaluation's (eval_loss, ...). */ phase?: 'train' | 'eval' }
  | { type: 'log'; level: 'info' | 'warning' | 'error'; message: string };

export interface JobResult {
  status: JobStatus;
  outputDir: string;
  /** Files written under outputDir, relative ("adapter/adapter_model.safetensors", "metrics.jsonl"). */
  files: string[];
  /** The hosted model's id where the provider serves one (OpenAI), else null. */
  modelId: string | null;
  error?: string;
}

export interface Job {
  backend: string;
  id: string;
  /** Settles when the job ends and its results are in outputDir. */
  done: Promise<JobResult>;
  cancel(): Promise<void>;
}

export interface StartOptions {
  onEvent?: (e: JobEvent) => void;
  /** Hosted backends: false (the default) asks `confirmSpend` before a job that costs money. */
  yes?: boolean;
  /** Asked with the price estimate; resolve false to stop before the job is created. */
  confirmSpend?: (estimate: string) => Promise<boolean>;
  /** Stops following a hosted job (Ctrl-C): the job keeps running remotely; --resume re-attaches. */
  signal?: AbortSignal;
}

/** A job as a provider lists it (wgrad jobs list|status). */
export interface JobInfo { id: string; status: JobStatus; providerStatus: string; model: string; createdAt: string; resultModel: string | null }

/** What validate found: the data summary and the run as the backend will send or run it. */
export interface Validated { summary: string; rows: number }

export interface TrainingBackend {
  readonly name: string;
  readonly description: string;
  readonly capabilities: Capabilities;
  /** null when the backend can run here; otherwise why not and what to do (API key, driver). */
  unavailable(): Promise<string | null>;
  /** Checks the config against the capabilities and the data with the local parsers. Throws ConfigError. */
  validate(config: RunConfig): Promise<Validated>;
  start(config: RunConfig, opts?: StartOptions): Promise<Job>;
  /** Re-attaches to (hosted) or continues from checkpoints (local) the job recorded in outputDir/job.json. */
  resume(outputDir: string, opts?: StartOptions): Promise<Job>;
  /** Job control by id, where the backend keeps jobs (wgrad jobs). */
  jobs?: {
    list(): Promise<JobInfo[]>;
    status(id: string): Promise<JobInfo>;
    events(id: string): Promise<JobEvent[]>;
    cancel(id: string): Promise<JobInfo>;
    pause?(id: string): Promise<JobInfo>;
    unpause?(id: string): Promise<JobInfo>;
    estimate?(config: RunConfig): Promise<string>;
  };
}

/** A run config a backend cannot take; the message names the option, flag or file at fault. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
