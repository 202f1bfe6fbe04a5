// Every op with its inputs: odd sizes (1, 3, 17, 129) and broadcasting, positive domains where needed.
import * as w from '../../../engine/ops/index.ts';
import type { Tensor } from '../../../engine/tensor.ts';
import type { BinaryEntry, TernaryEntry, Tol, UnaryEntry } from '../../../engine/ops/op-table.ts';
import type { OpSpec } from './check.ts';

// The elementwise ops come from the op table: every entry gets its spec from its own domain and
// tolerance (tests/engine/op-table.test.ts checks that none is missing).
const tolOf = (t: Tol | undefined) => ({ atol: t?.atol, rtol: t?.rtol, gradTol: t?.gradTol });
const named: Record<string, (...xs: Tensor[]) => Tensor> = w as never;

export const unarySpecs: OpSpec[] = (Object.entries(w.unaryOps) as [string, UnaryEntry][]).flatMap(([name, e]): OpSpec[] => [
  { name: `${name} [129]`, inputs: [{ shape: [129], ...e.domain }], grad: e.d !== null, ...tolOf(e.tol), fn: ([x]) => named[name](x) },
  { name: `${name} [1]`, inputs: [{ shape: [1], ...e.domain }], grad: e.d !== null, ...tolOf(e.tol), fn: ([x]) => named[name](x) },
]);

const shapes: [number[], number[]][] = [[[3, 17], [3, 17]], [[3, 1], [1, 17]], [[2, 3, 4], [4]], [[1], [129]]];

export const binarySpecs: OpSpec[] = (Object.entries(w.binaryOps) as [string, BinaryEntry][]).flatMap(([name, e]): OpSpec[] => {
  const [da, db] = e.domain;
  if (e.d === null) {
    // Comparisons: i32 with broadcasting, and f32 with ties (equal integers as floats).
    return [
      { name: `${name} i32 broadcast`, inputs: [{ shape: [3, 17], ...da }, { shape: [17], ...db }], grad: false,
        fn: ([a, b]: Tensor[]) => named[name](a, b) },
      { name: `${name} f32 with ties`, inputs: [{ shape: [17], ...da }, { shape: [17], ...db }], grad: false,
        fn: ([a, b]: Tensor[]) => named[name](w.cast(a, 'f32'), w.cast(b, 'f32')) },
    ];
  }
  return shapes.map(([sa, sb]) => ({
    name: `${name} [${sa}]·[${sb}]`, ...tolOf(e.tol),
    inputs: [{ shape: sa, ...da }, { shape: sb, ...db }],
    fn: ([a, b]: Tensor[]) => named[name](a, b),
  }));
});

export const ternarySpecs: OpSpec[] = (Object.entries(w.ternaryOps) as [string, TernaryEntry][]).map(([name, e]): OpSpec => ({
  name: `${name} broadcast`, ...tolOf(e.tol),
  inputs: [{ shape: [3, 1], ...e.domain[0] }, { shape: [3, 17], ...e.domain[1] }, { shape: [17], ...e.domain[2] }],
  fn: ([c, a, b]: Tensor[]) => named[name](c, a, b),
}));

export const miscElementwiseSpecs: OpSpec[] = [
  { name: 'gelu tanh via gelu(x, approximate)', inputs: [{ shape: [17], lo: -4, hi: 4 }], fn: ([x]) => w.gelu(x, 'tanh') },
  { name: 'i32 arithmetic', inputs: [{ shape: [17], kind: 'int', lo: -50, hi: 50 }, { shape: [17], kind: 'int', lo: 1, hi: 9 }],
    grad: false, fn: ([a, b]) => w.cast(w.add(w.mul(a, b), w.sub(a, w.div(a, b))), 'f32') },
  { name: 'cast f32→i32→f32', inputs: [{ shape: [17], lo: -5, hi: 5 }], grad: false, fn: ([x]) => w.cast(w.cast(x, 'i32'), 'f32') },
  { name: 'scalar operands', inputs: [{ shape: [3, 17] }], fn: ([x]) => w.div(w.sub(w.mul(x, 3), 1), 2) },
];

export const reduceSpecs: OpSpec[] = [
  { name: 'sum all [3,17]', inputs: [{ shape: [3, 17] }], fn: ([x]) => w.sum(x) },
  { name: 'sum axis 0', inputs: [{ shape: [3, 17] }], fn: ([x]) => w.sum(x, 0) },
  { name: 'sum axes [0,2] (non-contiguous)', inputs: [{ shape: [2, 3, 5] }], fn: ([x]) => w.sum(x, [0, 2]) },
  { name: 'sum -1 keepdim [129]', inputs: [{ shape: [2, 129] }], fn: ([x]) => w.sum(x, -1, true) },
  { name: 'mean axis 1', inputs: [{ shape: [3, 17, 2] }], fn: ([x]) => w.mean(x, 1) },
  { name: 'max axis -1', inputs: [{ shape: [3, 17] }], fn: ([x]) => w.max(x, -1) },
  { name: 'max all [1]', inputs: [{ shape: [1] }], fn: ([x]) => w.max(x) },
  { name: 'min axis 0 keepdim', inputs: [{ shape: [17, 3] }], fn: ([x]) => w.min(x, 0, true) },
  { name: 'logsumexp -1', inputs: [{ shape: [3, 17], lo: -20, hi: 20 }], fn: ([x]) => w.logsumexp(x, -1) },
  { name: 'logsumexp axis 0 keepdim', inputs: [{ shape: [17, 3] }], fn: ([x]) => w.logsumexp(x, 0, true) },
  { name: 'argmax -1', inputs: [{ shape: [3, 17] }], grad: false, fn: ([x]) => w.cast(w.argmax(x, -1), 'f32') },
  { name: 'argmax 0', inputs: [{ shape: [17, 3] }], grad: false, fn: ([x]) => w.cast(w.argmax(x, 0), 'f32') },
];

export const shapeSpecs: OpSpec[] = [
  { name: 'reshape', inputs: [{ shape: [3, 4] }], fn: ([x]) => w.mul(w.reshape(x, [2, -1, 3]), w.reshape(x, [2, 2, 3])) },
  { name: 'transpose', inputs: [{ shape: [3, 17] }], fn: ([x]) => w.transpose(x) },
  { name: 'permute 3-d', inputs: [{ shape: [2, 3, 5] }], fn: ([x]) => w.permute(x, [2, 0, 1]) },
  { name: 'slice with step', inputs: [{ shape: [5, 17] }], fn: ([x]) => w.slice(x, [[1, 4], [-15, 17, 3]]) },
  { name: 'concat axis 1', inputs: [{ shape: [3, 2] }, { shape: [3, 5] }], fn: ([a, b]) => w.concat([a, b, a], 1) },
  { name: 'stack axis 0', inputs: [{ shape: [3, 4] }, { shape: [3, 4] }], fn: ([a, b]) => w.stack([a, b], 0) },
  { name: 'stack axis -1', inputs: [{ shape: [3] }, { shape: [3] }], fn: ([a, b]) => w.stack([a, b], -1) },
  { name: 'broadcastTo', inputs: [{ shape: [3, 1] }], fn: ([x]) => w.broadcastTo(x, [2, 3, 17]) },
  { name: 'split + narrow', inputs: [{ shape: [4, 6] }], fn: ([x]) => { const [a, b] = w.split(x, [2, 4], 1); return w.add(w.narrow(b, 1, 1, 2), a); } },
  { name: 'squeeze/unsqueeze', inputs: [{ shape: [3, 1, 4] }], fn: ([x]) => w.unsqueeze(w.squeeze(x, 1), 0) },
];

export const matmulSpecs: OpSpec[] = [
  { name: 'matmul [3,17]·[17,5]', inputs: [{ shape: [3, 17] }, { shape: [17, 5] }], fn: ([a, b]) => w.matmul(a, b) },
  { name: 'matmul transA', inputs: [{ shape: [17, 3] }, { shape: [17, 5] }], fn: ([a, b]) => w.matmul(a, b, { transA: true }) },
  { name: 'matmul transB', inputs: [{ shape: [3, 17] }, { shape: [5, 17] }], fn: ([a, b]) => w.matmul(a, b, { transB: true }) },
  { name: 'matmul transA transB', inputs: [{ shape: [17, 3] }, { shape: [5, 17] }], fn: ([a, b]) => w.matmul(a, b, { transA: true, transB: true }) },
  { name: 'matmul [1,1]·[1,1]', inputs: [{ shape: [1, 1] }, { shape: [1, 1] }], fn: ([a, b]) => w.matmul(a, b) },
  { name: 'matmul batched [2,3,4]·[2,4,5]', inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }], fn: ([a, b]) => w.matmul(a, b) },
  { name: 'matmul batch broadcast [2,1,3,4]·[3,4,2]', inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }], fn: ([a, b]) => w.matmul(a, b) },
  { name: 'matmul shared weight [2,3,4]·[4,5]ᵀ', inputs: [{ shape: [2, 3, 4] }, { shape: [5, 4] }], fn: ([a, b]) => w.matmul(a, b, { transB: true }) },
  { name: 'matmul vector', inputs: [{ shape: [3, 17] }, { shape: [17] }], fn: ([a, b]) => w.matmul(a, b) },
  { name: 'matmul [129,3]·[3,17]', inputs: [{ shape: [129, 3] }, { shape: [3, 17] }], fn: ([a, b]) => w.matmul(a, b) },
];

export const indexSpecs: OpSpec[] = [
  { name: 'embedding [17,5] at [2,3]', inputs: [{ shape: [17, 5] }, { shape: [2, 3], kind: 'int', lo: 0, hi: 17 }], fn: ([t, i]) => w.embedding(t, i) },
  { name: 'embedding repeated ids', inputs: [{ shape: [3, 4] }, { shape: [9], kind: 'int', lo: 0, hi: 3 }], fn: ([t, i]) => w.embedding(t, i) },
  { name: 'gatherLast', inputs: [{ shape: [3, 17] }, { shape: [3, 1], kind: 'int', lo: 0, hi: 17 }], fn: ([x, i]) => w.gatherLast(x, i) },
];

export const nnSpecs: OpSpec[] = [
  { name: 'softmax -1', inputs: [{ shape: [3, 17], lo: -5, hi: 5 }], fn: ([x]) => w.softmax(x) },
  { name: 'softmax axis 0 [129,3]', inputs: [{ shape: [129, 3] }], fn: ([x]) => w.softmax(x, 0) },
  { name: 'log_softmax -1', inputs: [{ shape: [3, 17], lo: -30, hi: 30 }], fn: ([x]) => w.logSoftmax(x) },
  { name: 'log_softmax [1,1]', inputs: [{ shape: [1, 1] }], fn: ([x]) => w.logSoftmax(x) },
  { name: 'cross_entropy mean', inputs: [{ shape: [4, 17], lo: -4, hi: 4 }, { shape: [4], kind: 'int', lo: 0, hi: 17 }], fn: ([x, t]) => w.crossEntropy(x, t) },
  { name: 'cross_entropy ignore_index', inputs: [{ shape: [2, 3, 17] }, { shape: [2, 3], kind: 'int', lo: -1, hi: 17 }],
    fn: ([x, t]) => w.crossEntropy(x, t, { ignoreIndex: -1 }) },
  { name: 'cross_entropy mask none', inputs: [{ shape: [5, 3] }, { shape: [5], kind: 'int', lo: 0, hi: 3 }, { shape: [5], kind: 'mask' }],
    fn: ([x, t, m]) => w.crossEntropy(x, t, { mask: m, reduction: 'none' }) },
  { name: 'token_logprobs [3,17]', inputs: [{ shape: [3, 17], lo: -4, hi: 4 }, { shape: [3], kind: 'int', lo: 0, hi: 17 }], fn: ([x, t]) => w.tokenLogprobs(x, t) },
  { name: 'token_logprobs [2,3,8] ignore (vec4)', inputs: [{ shape: [2, 3, 8] }, { shape: [2, 3], kind: 'int', lo: -1, hi: 8 }],
    fn: ([x, t]) => w.tokenLogprobs(x, t, { ignoreIndex: -1 }) },
  { name: 'token_logprobs [4,1]', inputs: [{ shape: [4, 1] }, { shape: [4], kind: 'int', lo: 0, hi: 1 }], fn: ([x, t]) => w.tokenLogprobs(x, t) },
  { name: 'rms_norm', inputs: [{ shape: [3, 17] }, { shape: [17] }], fn: ([x, g]) => w.rmsNorm(x, g, 1e-5) },
  { name: 'layer_norm', inputs: [{ shape: [3, 17] }, { shape: [17] }, { shape: [17] }], fn: ([x, g, b]) => w.layerNorm(x, g, b) },
  { name: 'rope half', inputs: [{ shape: [2, 3, 5, 8] }], fn: ([x]) => w.rope(x, { offset: 3 }) },
  { name: 'rope interleaved', inputs: [{ shape: [3, 5, 8] }], fn: ([x]) => w.rope(x, { style: 'interleaved', theta: 500 }) },
  { name: 'rope partial rotary dim', inputs: [{ shape: [3, 6] }], fn: ([x]) => w.rope(x, { rotaryDim: 4 }) },
  { name: 'rms_norm without weight', inputs: [{ shape: [2, 3, 129] }], fn: ([x]) => w.rmsNorm(x, null, 1e-5) },
  { name: 'rms_norm [5,8] (vec4 rows)', inputs: [{ shape: [5, 8] }, { shape: [8] }], fn: ([x, g]) => w.rmsNorm(x, g, 1e-6) },
  { name: 'rms_norm [1]', inputs: [{ shape: [1] }, { shape: [1] }], fn: ([x, g]) => w.rmsNorm(x, g) },
  { name: 'rope per-batch positions', inputs: [{ shape: [2, 3, 4, 8] }],
    fn: ([x]) => w.rope(x, { positions: [[0, 1, 2, 3], [5, 6, 9, 17]], theta: 1000 }) },
  { name: 'rope per-batch interleaved partial', inputs: [{ shape: [3, 2, 2, 6] }],
    fn: ([x]) => w.rope(x, { positions: [[4, 5], [0, 1], [2, 7]], style: 'interleaved', rotaryDim: 4 }) },
  { name: 'rope shared tables (q and k)', inputs: [{ shape: [2, 4, 3, 8] }, { shape: [2, 2, 3, 8] }],
    fn: ([q, k]) => {
      const tables = new w.RopeTables([[1, 2, 3], [1, 2, 3]], 8, 10000, q.backend);
      return w.concat([w.rope(q, { tables }), w.rope(k, { tables })], 1);
    } },
  { name: 'swiglu [3,17]', inputs: [{ shape: [3, 17], lo: -6, hi: 6 }, { shape: [3, 17] }], fn: ([g, u]) => w.swiglu(g, u) },
  { name: 'swiglu [2,8] (vec4)', inputs: [{ shape: [2, 8], lo: -6, hi: 6 }, { shape: [2, 8] }], fn: ([g, u]) => w.swiglu(g, u) },
];

// fused(): any expression as one kernel, its VJP derived symbolically (engine/ops/expr-grad.ts).
const X = w.expr;
export const fusedSpecs: OpSpec[] = [
  { name: 'fused softplus(b − a)·tanh(c), broadcast', inputs: [{ shape: [3, 17] }, { shape: [17] }, { shape: [3, 1] }],
    fn: ([a, b, c]) => w.fused('t', [a, b, c], (a, b, c) => X.mul(X.softplus(X.sub(b, a)), X.tanh(c))) },
  { name: 'fused select/pow/max/erf/log1p (derived VJP)', inputs: [{ shape: [17], lo: 0.2, hi: 3 }, { shape: [17] }],
    fn: ([a, b]) => w.fused('t', [a, b], (a, b) =>
      X.select(X.gt(b, 0), X.pow(a, X.add(b, 1)), X.add(X.max(X.erf(b), X.mul(b, 0.3)), X.log1p(a)))) },
  { name: 'fused with a scalar operand', inputs: [{ shape: [129] }], fn: ([a]) => w.fused('t', [a, 2.5], (a, s) => X.div(X.sin(a), X.add(s, X.abs(a)))) },
];

export const allSpecs: OpSpec[] = [
  ...fusedSpecs,
  ...unarySpecs, ...binarySpecs, ...ternarySpecs, ...miscElementwiseSpecs, ...reduceSpecs,
  ...shapeSpecs, ...matmulSpecs, ...indexSpecs, ...nnSpecs,
];
