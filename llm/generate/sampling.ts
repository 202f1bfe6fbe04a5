// Next-token sampling settings. The sampling itself runs on the model's backend
// (engine sampleTokens, kernels/sample.ts): only one token id per sequence is read back per step.

export interface SamplingOpts {
  /** 0 (default) is greedy argmax. */
  temperature?: number;
  /** Keep the k most likely tokens (0: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1: all). */
  topP?: number;
}

/** The backend's SampleParams, checked once where the user calls. */
export function samplingParams(o: SamplingOpts): { temperature: number; topK: number; topP: number } {
  const temperature = o.temperature ?? 0, topK = o.topK ?? 0, topP = o.topP ?? 1;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new Error(`generate: temperature ${temperature} must be a finite number ≥ 0 (0: greedy)`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`generate: top-k ${topK} must be an integer ≥ 0 (0: off)`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`generate: top-p ${topP} must lie in (0, 1]`);
  return { temperature, topK, topP };
}
