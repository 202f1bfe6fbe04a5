// What the page and the training worker say to each other (through comlink): plain data only.
import type { TrainOptionValues } from '../../llm/index.ts';

export interface DeviceInfo {
  backend: 'webgpu' | 'cpu';
  description: string;
  /** A software rasteriser (SwiftShader, lavapipe, WARP): named, and slow. */
  software: boolean;
  /** Why WebGPU is not used, when it is not. */
  fallbackReason?: string;
  /** A software WebGPU adapter passed over for the cpu backend (auto). */
  skippedAdapter?: string;
  /** The browser's WebGPU adapter (in use or passed over): vendor, architecture, features, limits. */
  webgpu?: { adapter?: { vendor: string; architecture: string; device: string; description: string }; features: string[]; limits: Record<string, number> };
  adapter?: { vendor: string; architecture: string; device: string; description: string };
  features: string[];
  limits: Record<string, number>;
}

export interface ModelInfo {
  source: ModelSource;
  architecture: string;
  layers: number;
  hidden: number;
  heads: number;
  vocab: number;
  parameters: number;
  /** Bytes of the weights in float32 on this backend. */
  weightBytes: number;
  /** The largest single buffer the model needs (embedding or lm_head). */
  largestBuffer: number;
  /** maxStorageBufferBindingSize of this adapter (null on cpu). */
  bufferLimit: number | null;
}

export type ModelSource = { kind: 'url'; base: string } | { kind: 'files'; files: { name: string; size: number }[] };

export interface DataPreview {
  name: string;
  bytes: number;
  rows: number;
  /** Rows per detected format (messages, alpaca, prompt-completion, ...). */
  formats: Record<string, number>;
  examples: number;
  invalid: number;
  tokens: number;
  lossTokens: number;
  truncated: number;
  /** The first errors, each naming file and line or row and the field. */
  errors: string[];
  /** The first rows as JSON, for the table. */
  head: string[];
}

export interface MemoryEstimate {
  weights: number;
  trainable: number;
  /** gradients + optimizer state of the trainable parameters */
  optimizer: number;
  activations: number;
  total: number;
  /** Checkpoint bytes in the Origin Private File System (two kept at once while writing). */
  checkpoint: number;
}

export type RunEvent =
  | { type: 'step'; record: Record<string, number | null>; memoryBytes: number }
  | { type: 'eval'; record: Record<string, number> }
  | { type: 'log'; text: string }
  | { type: 'state'; state: 'running' | 'paused' | 'stopping' };

export interface RunSummary {
  steps: number;
  finalLoss: number | null;
  evalLoss: number | null;
  stopped: boolean;
}

/** A run saved in the Origin Private File System: what the app offers to resume after a reload. */
export interface SavedRun {
  options: TrainOptionValues;
  model: ModelSource;
  data: { name: string };
  /** The newest complete checkpoint's step (0: none yet). */
  step: number;
  maxSteps: number;
  finished: boolean;
}

export interface GenerateResult { withAdapter: string; withoutAdapter: string | null }
