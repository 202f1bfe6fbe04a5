// Batched matmul with broadcast batch dimensions and transposed operands.
//   a [..., m, k] (or [..., k, m] with transA) · b [..., k, n] (or [..., n, k] with transB) → [..., m, n]
import { record } from '../autodiff.ts';
import { Tensor, shapeSize, shapeStr } from '../tensor.ts';
import { wrap } from './create.ts';
import { sumTo } from './reduce.ts';
import { broadcastTo, reshape } from './shape.ts';
import { broadcastShapes, expectFloat, sameBackend } from './util.ts';

export interface MatmulOpts { transA?: boolean; transB?: boolean }

export function matmul(a: Tensor, b: Tensor, opts: MatmulOpts = {}): Tensor {
  const transA = !!opts.transA, transB = !!opts.transB;
  expectFloat('matmul', a, b);
  sameBackend('matmul', a, b);
  if (a.ndim < 1 || b.ndim < 1) throw new Error(`matmul: operands must have at least 1 dimension, got ${a.describe()} and ${b.describe()}`);
  // Vectors: a [k] is a row [1, k], b [k] a column [k, 1]; the extra axis is dropped at the end.
  const av = a.ndim === 1 ? reshape(a, transA ? [a.shape[0], 1] : [1, a.shape[0]]) : a;
  const bv = b.ndim === 1 ? reshape(b, transB ? [1, b.shape[0]] : [b.shape[0], 1]) : b;
  const [m, ka] = transA ? [av.shape[av.ndim - 1], av.shape[av.ndim - 2]] : [av.shape[av.ndim - 2], av.shape[av.ndim - 1]];
  const [kb, n] = transB ? [bv.shape[bv.ndim - 1], bv.shape[bv.ndim - 2]] : [bv.shape[bv.ndim - 2], bv.shape[bv.ndim - 1]];
  if (ka !== kb) {
    throw new Error(`matmul: inner dimensions differ: a ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} has k=${ka}, b ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''} has k=${kb}`);
  }
  const batchA = av.shape.slice(0, -2), batchB = bv.shape.slice(0, -2);
  const batch = broadcastShapes('matmul (batch dimensions)', batchA, batchB);
  const nb = shapeSize(batch);
  // An operand whose batch dims are all 1 is reused for every product (stride 0); one whose batch
  // dims differ from the broadcast shape in another way is expanded first.
  const operand = (t: Tensor, tb: readonly number[]): [Tensor, number] => {
    if (shapeSize(tb) === 1) return [t, 0];
    const full = tb.length === batch.length && tb.every((d, i) => d === batch[i]);
    if (full) return [t, shapeSize(t.shape.slice(-2))];
    const e = broadcastTo(t, [...batch, ...t.shape.slice(-2)]);
    return [e, shapeSize(t.shape.slice(-2))];
  };
  const [ae, aStride] = operand(av, batchA);
  const [be, bStride] = operand(bv, batchB);
  const storage = a.backend.matmul(ae.storage, be.storage, {
    batch: nb, m, n, k: ka, transA, transB, aBatchStride: aStride, bBatchStride: bStride,
  });
  let out = wrap(storage, [...batch, m, n]);
  out = record(out, 'matmul', [av, bv], (g) => {
    // With Ā = op(A), B̄ = op(B): dĀ = g·B̄ᵀ, dB̄ = Āᵀ·g, then undo each op and sum broadcast batches.
    const ga = !av.requiresGrad ? null : transA
      ? matmul(bv, g, { transA: transB, transB: true })
      : matmul(g, bv, { transB: !transB });
    const gb = !bv.requiresGrad ? null : transB
      ? matmul(g, av, { transA: true, transB: transA })
      : matmul(av, g, { transA: !transA });
    return [ga && sumTo(ga, av.shape), gb && sumTo(gb, bv.shape)];
  });
  if (a.ndim === 1 || b.ndim === 1) {
    out = reshape(out, [...batch, ...(a.ndim === 1 ? [] : [m]), ...(b.ndim === 1 ? [] : [n])]);
  }
  return out;
}
