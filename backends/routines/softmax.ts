// Row-wise softmax, log-softmax and logsumexp over the last axis, one workgroup per row with an
// online (max, sum) tree (kernels/softmax.ts, kernels/logsumexp.ts, kernels/rowstats.ts).
import { logsumexpKernel } from '../../kernels/logsumexp.ts';
import { rowWorkgroupSize } from '../../kernels/rowstats.ts';
import { softmaxKernel } from '../../kernels/softmax.ts';
import type { Storage } from '../backend.ts';
import { assertSizes, assertStorages, type Routine } from '../routine.ts';

function assertRows(op: string, x: Storage, rows: number, cols: number): void {
  assertSizes(op, { rows, cols });
  assertStorages(op, { x: [x, 'f32', [rows, cols]] });
}

/** x [rows, cols] → softmax (or log-softmax, `log`) over cols, [rows, cols]. */
export const softmax: Routine<[x: Storage, rows: number, cols: number, log: boolean], Storage> = {
  name: 'softmax',
  assert: (x, rows, cols, log) => assertRows(log ? 'logSoftmax' : 'softmax', x, rows, cols),
  cpu(c, x, rows, cols, log) {
    const xd = c.data(x);
    const out = c.alloc(rows * cols, 'f32');
    const o = c.data(out);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let mx = -Infinity;
      for (let j = 0; j < cols; j++) mx = Math.max(mx, xd[base + j]);
      let s = 0;
      for (let j = 0; j < cols; j++) s += Math.exp(xd[base + j] - mx);
      const ls = Math.log(s);
      for (let j = 0; j < cols; j++) o[base + j] = log ? xd[base + j] - mx - ls : Math.exp(xd[base + j] - mx) / s;
    }
    return out;
  },
  webgpu(g, x, rows, cols, log) {
    const name = log ? 'logSoftmax' : 'softmax';
    const xb = g.bind(name, 'x', x);
    const out = g.alloc(rows * cols, 'f32', name);
    if (rows * cols === 0) return out;
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    g.runGrid(name, softmaxKernel(log, rowWorkgroupSize(units), vec4), [xb, g.bind(name, 'out', out)], { rows, cols: units }, rows);
    return out;
  },
};

/** logsumexp over cols of x [rows, cols] → [rows]; an empty or all −inf row gives −inf. */
export const logsumexp: Routine<[x: Storage, rows: number, cols: number], Storage> = {
  name: 'logsumexp',
  assert: (x, rows, cols) => assertRows('logsumexp', x, rows, cols),
  cpu(c, x, rows, cols) {
    const xd = c.data(x);
    const out = c.alloc(rows, 'f32');
    const o = c.data(out);
    for (let r = 0; r < rows; r++) {
      let mx = -Infinity;
      for (let j = 0; j < cols; j++) mx = Math.max(mx, xd[r * cols + j]);
      if (mx === -Infinity) { o[r] = -Infinity; continue; }
      let s = 0;
      for (let j = 0; j < cols; j++) s += Math.exp(xd[r * cols + j] - mx);
      o[r] = mx + Math.log(s);
    }
    return out;
  },
  webgpu(g, x, rows, cols) {
    const xb = g.bind('logsumexp', 'x', x);
    if (cols === 0) return g.backend.fill(rows, -Infinity, 'f32');
    const out = g.alloc(rows, 'f32', 'logsumexp');
    if (rows === 0) return out;
    const vec4 = cols % 4 === 0;
    const units = vec4 ? cols / 4 : cols;
    g.runGrid('logsumexp', logsumexpKernel(rowWorkgroupSize(units), vec4), [xb, g.bind('logsumexp', 'out', out)], { rows, cols: units }, rows);
    return out;
  },
};
