// Index ops: row gather (embedding lookup) with scatter-add backward, and gather along the last axis.
import { record } from '../autodiff.ts';
import { Tensor, shapeStr } from '../tensor.ts';
import { arange, wrap } from './create.ts';
import { add } from './elementwise.ts';
import { reshape } from './shape.ts';
import { sameBackend } from './util.ts';

/** Host-side range check when the indices' values are known (tensors built from arrays). */
function checkRange(op: string, idx: Tensor, limit: number, what: string): void {
  if (idx.dtype !== 'i32') throw new Error(`${op}: indices must be i32, got ${idx.describe()}`);
  const h = idx.host;
  if (!h) return;
  for (let i = 0; i < h.length; i++) {
    if (h[i] < 0 || h[i] >= limit) {
      throw new Error(`${op}: index ${h[i]} at position ${i} is out of range for ${what} (expected 0 ≤ index < ${limit})`);
    }
  }
}

/** table [rows, ...rest] gathered at idx [...] → [...idx.shape, ...rest]. */
export function embedding(table: Tensor, idx: Tensor): Tensor {
  sameBackend('embedding', table, idx);
  if (table.ndim < 1) throw new Error(`embedding: table must have at least 1 dimension, got ${table.describe()}`);
  const rows = table.shape[0];
  checkRange('embedding', idx, rows, `table ${shapeStr(table.shape)}`);
  const cols = table.size / Math.max(rows, 1);
  const out = wrap(table.backend.gather(table.storage, idx.storage, rows, cols), [...idx.shape, ...table.shape.slice(1)], table.dtype);
  return record(out, 'embedding', [table], (g) => [
    wrap(g.backend.scatterAdd(g.storage, idx.storage, rows, cols), table.shape),
  ]);
}

/** out[..., 0] = x[..., idx[...]] along the last axis; idx has x's shape with last dim 1 (take_along_dim). */
export function gatherLast(x: Tensor, idx: Tensor): Tensor {
  sameBackend('gatherLast', x, idx);
  const v = x.shape[x.ndim - 1];
  const lead = x.shape.slice(0, -1);
  if (idx.ndim !== x.ndim || idx.shape[idx.ndim - 1] !== 1 || lead.some((d, i) => d !== idx.shape[i])) {
    throw new Error(`gatherLast: indices ${idx.describe()} must have shape ${shapeStr([...lead, 1])} for ${x.describe()}`);
  }
  checkRange('gatherLast', idx, v, `last axis of ${shapeStr(x.shape)}`);
  // Flat row index r·V + idx[r] into x viewed as a [rows·V, 1] table.
  const rows = idx.size;
  const flatIdx = add(arange(0, rows * v, v, { backend: x.backend }), reshape(idx, [rows]));
  return reshape(embedding(reshape(x, [rows * v, 1]), flatIdx), idx.shape);
}
