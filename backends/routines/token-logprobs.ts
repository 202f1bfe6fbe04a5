// Per-token log-probabilities under a softmax over the vocabulary, forward and backward, each in
// one pass over the logits (kernels/token-logprobs.ts).
import { rowWorkgroupSize } from '../../kernels/rowstats.ts';
import { tokenLogprobsBackwardKernel, tokenLogprobsKernel } from '../../kernels/token-logprobs.ts';
import type { Storage } from '../backend.ts';
import { assertSizes, assertStorages, type CpuData, type Routine } from '../routine.ts';

function assertLogprobs(op: string, logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number | null,
  rowVectors: Record<string, Storage> = {}): void {
  assertSizes(op, { rows, cols });
  const rv = Object.fromEntries(Object.entries(rowVectors).map(([f, s]) => [f, [s, 'f32', [rows]]])) as Record<string, [Storage, 'f32', number[]]>;
  assertStorages(op, { logits: [logits, 'f32', [rows, cols]], targets: [targets, 'i32', [rows]], ...rv });
  if (ignoreIndex !== null && (!Number.isInteger(ignoreIndex) || ignoreIndex < -(2 ** 31) || ignoreIndex >= 2 ** 31)) {
    throw new Error(`${op}: ignoreIndex ${ignoreIndex} must be a 32-bit integer or null`);
  }
}

/** The cpu reference refuses a target it cannot index (the GPU kernels give NaN instead). */
function checkTargets(op: string, td: CpuData, cols: number, ignoreIndex: number | null): void {
  for (let r = 0; r < td.length; r++) {
    const t = td[r];
    if (t !== ignoreIndex && (t < 0 || t >= cols)) {
      throw new Error(`${op}: target ${t} at row ${r} is out of range [0, ${cols})${ignoreIndex === null ? '' : ` and is not ignoreIndex ${ignoreIndex}`}`);
    }
  }
}

/** Uniform words of an optional ignoreIndex (the kernels compare its i32 bit pattern). */
function ignoreWords(ignoreIndex: number | null): { ignore: number; hasIgnore: number } {
  return { ignore: ignoreIndex ?? 0, hasIgnore: ignoreIndex === null ? 0 : 1 };
}

/**
 * logits [rows, cols] f32, targets [rows] i32 →
 *   logp [rows] = logits[r, t_r] − lse_r (0 where t_r == ignoreIndex),  lse [rows] = logsumexp_c logits[r, c].
 * ignoreIndex null: no target is ignored. A target outside [0, cols) that is not ignored is an
 * error on cpu and gives NaN on webgpu (the engine range-checks targets whose values it knows).
 */
export const tokenLogprobs: Routine<[logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number | null],
  { logp: Storage; lse: Storage }> = {
  name: 'tokenLogprobs',
  assert: (logits, targets, rows, cols, ignoreIndex) => assertLogprobs('tokenLogprobs', logits, targets, rows, cols, ignoreIndex),
  cpu(c, logits, targets, rows, cols, ignoreIndex) {
    const xd = c.data(logits), td = c.data(targets);
    checkTargets('tokenLogprobs', td, cols, ignoreIndex);
    const logp = c.alloc(rows, 'f32'), lse = c.alloc(rows, 'f32');
    const lp = c.data(logp), ls = c.data(lse);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let mx = -Infinity;
      for (let j = 0; j < cols; j++) mx = Math.max(mx, xd[base + j]);
      let s = 0;
      if (mx !== -Infinity) for (let j = 0; j < cols; j++) s += Math.exp(xd[base + j] - mx);
      const logS = Math.log(s);
      ls[r] = mx === -Infinity ? -Infinity : mx + logS;
      const t = td[r];
      // (x_t − max) − log s: subtracting the max first keeps the digits of large logits.
      lp[r] = t === ignoreIndex ? 0 : xd[base + t] - mx - logS;
    }
    return { logp, lse };
  },
  webgpu(g, logits, targets, rows, cols, ignoreIndex) {
    const op = 'tokenLogprobs';
    const xb = g.bind(op, 'logits', logits), tb = g.bind(op, 'targets', targets);
    const logp = g.alloc(rows, 'f32', op), lse = g.alloc(rows, 'f32', op);
    if (rows === 0) return { logp, lse };
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    g.runGrid(op, tokenLogprobsKernel(rowWorkgroupSize(units), vec4), [xb, tb, g.bind(op, 'logp', logp), g.bind(op, 'lse', lse)],
      { rows, cols: units, vocab: cols, ...ignoreWords(ignoreIndex) }, rows);
    return { logp, lse };
  },
};

/**
 * Backward of tokenLogprobs, written straight into one [rows, cols] buffer:
 *   dlogits[r, c] = g_r · (onehot(t_r)[c] − exp(logits[r, c] − lse_r)),  zeros on ignored rows.
 * lse is tokenLogprobs' lse, gradLogp [rows] the incoming gradient g.
 */
export const tokenLogprobsBackward: Routine<[logits: Storage, targets: Storage, lse: Storage, gradLogp: Storage, rows: number,
  cols: number, ignoreIndex: number | null], Storage> = {
  name: 'tokenLogprobsBackward',
  assert: (logits, targets, lse, gradLogp, rows, cols, ignoreIndex) =>
    assertLogprobs('tokenLogprobsBackward', logits, targets, rows, cols, ignoreIndex, { lse, gradLogp }),
  cpu(c, logits, targets, lse, gradLogp, rows, cols, ignoreIndex) {
    const xd = c.data(logits), td = c.data(targets), ld = c.data(lse), gd = c.data(gradLogp);
    checkTargets('tokenLogprobsBackward', td, cols, ignoreIndex);
    const out = c.alloc(rows * cols, 'f32');
    const o = c.data(out);
    for (let r = 0; r < rows; r++) {
      const t = td[r];
      if (t === ignoreIndex) continue; // zeros
      const base = r * cols, gr = gd[r], l = ld[r];
      for (let j = 0; j < cols; j++) o[base + j] = gr * ((j === t ? 1 : 0) - Math.exp(xd[base + j] - l));
    }
    return out;
  },
  webgpu(g, logits, targets, lse, gradLogp, rows, cols, ignoreIndex) {
    const op = 'tokenLogprobsBackward';
    const bindings = [g.bind(op, 'logits', logits), g.bind(op, 'targets', targets), g.bind(op, 'lse', lse), g.bind(op, 'gradLogp', gradLogp)];
    const out = g.alloc(rows * cols, 'f32', op);
    if (out.size === 0) return out;
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    g.run1d(op, tokenLogprobsBackwardKernel(vec4), [...bindings, g.bind(op, 'out', out)],
      { n: rows * units, cols: units, vocab: cols, ...ignoreWords(ignoreIndex) });
    return out;
  },
};
