// Categorical sampling from logits on the tensor's backend (kernels/sample.ts): one index per row,
// no gradient. The caller supplies the uniforms, so the random stream (and its checkpointed state)
// stays on the host while the [rows, V] logits never leave the device.
import * as routines from '../../backends/routines/index.ts';
import type { SampleParams } from '../../backends/routines/index.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { wrap } from './create.ts';
import { expectFloat, sameBackend } from './util.ts';

/** logits [..., V], uniforms [...] f32 in [0, 1) → i32 [...]: greedy when temperature is 0. */
export function sampleTokens(logits: Tensor, uniforms: Tensor, p: SampleParams): Tensor {
  const op = 'sample_tokens';
  expectFloat(op, logits, uniforms);
  sameBackend(op, logits, uniforms);
  const lead = logits.shape.slice(0, -1);
  if (logits.ndim < 1 || uniforms.ndim !== lead.length || uniforms.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`${op}: uniforms must be ${shapeStr(lead)} for logits ${logits.describe()}, got ${uniforms.describe()}`);
  }
  const V = logits.shape[logits.ndim - 1];
  return wrap(logits.backend.run(routines.sampleTokens, logits.storage, uniforms.storage, uniforms.size, V, p), lead, 'i32');
}
