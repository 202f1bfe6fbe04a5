// Unary elementwise: out[i] = op(x[i]) over contiguous x [n].
// Bindings: 0 x (read), 1 out (read_write), 2 uniform { n }. Dispatch: ceil(n / 256) workgroups, folded.
// vec4 variant (n % 4 = 0): x and out bound as array<vec4<T>>, n counts vec4s, one 16-byte load and
// store per thread (memory-bound ops run closer to the bandwidth limit).
//
// f32 ops evaluate in f32 with the helpers of math.ts. On i32 input the integer-exact ops stay in
// integers; every other op runs in f32 and converts back with JavaScript's ToInt32 (truncate, wrap
// mod 2^32, NaN/±inf → 0), which is what the cpu backend's Int32Array stores do.
import { MATH_F32 } from './math.ts';
import { entry1d, type Kernel, uniformBlock } from './wgsl.ts';

export type UnaryDType = 'f32' | 'i32';

/** f32 expression of `x` for every unary op. */
export const UNARY_F32 = {
  neg: '-x',
  exp: 'exp(x)',
  log: 'log_(x)',
  sqrt: 'sqrt(x)',
  rsqrt: '1.0 / sqrt(x)', // inverseSqrt is only ~2 ulp on paper and worse on some drivers
  abs: 'abs(x)',
  sign: 'select(select(0.0, 1.0, x > 0.0), -1.0, x < 0.0)',
  sigmoid: 'sigmoid_(x)',
  tanh: 'tanh_(x)',
  relu: 'select(0.0, x, x > 0.0)',
  silu: 'x * sigmoid_(x)',
  gelu_tanh: '0.5 * x * (1.0 + tanh_(0.7978845608028654 * (x + 0.044715 * x * x * x)))',
  gelu_erf: '0.5 * x * (1.0 + erf_(x * 0.7071067811865476))',
  softplus: 'softplus_(x)',
  logsigmoid: '-softplus_(-x)',
  square: 'x * x',
  recip: '1.0 / x',
  sin: 'sin_(x)',
  cos: 'cos_(x)',
  step: 'select(0.0, 1.0, x > 0.0)',
  erf: 'erf_(x)',
  floor: 'floor(x)',
  cast_f32: 'x',
  cast_i32: 'x', // the dtype change happens in the store (to_i32_)
} as const;

/** i32 expressions for ops that are exact on integers (wrapping like the cpu backend's `| 0`). */
const UNARY_I32: Partial<Record<keyof typeof UNARY_F32, string>> = {
  neg: '-x',
  abs: 'select(x, -x, x < 0)',
  sign: 'select(select(0, 1, x > 0), -1, x < 0)',
  relu: 'max(x, 0)',
  square: 'x * x',
  step: 'select(0, 1, x > 0)',
  floor: 'x',
  cast_i32: 'x',
  cast_f32: 'x', // converted in the store
};

export type UnaryKernelOp = keyof typeof UNARY_F32;

/** Ops whose cpu definition sends NaN to 0 (x > 0 ? ... : 0) or keeps it out of the result type. */
const NAN_TO_ZERO = new Set<UnaryKernelOp>(['relu', 'step', 'sign', 'cast_i32']);

/** JavaScript ToInt32 of an f32: truncate, wrap modulo 2^32, non-finite → 0. */
const TO_I32 = `
fn to_i32_(v: f32) -> i32 {
  let t = trunc(v);
  if (abs(t) < 2147483648.0) { return i32(t); }
  if (!(abs(t) <= 3.4028234e38)) { return 0; } // NaN, ±inf
  let r = t - 4294967296.0 * floor(t / 4294967296.0); // exact: t is a multiple of 2^8 here
  return bitcast<i32>(u32(r));
}`;

export function unaryOutDType(op: UnaryKernelOp, inDType: UnaryDType): UnaryDType {
  return op === 'cast_f32' ? 'f32' : op === 'cast_i32' ? 'i32' : inDType;
}

export function unaryKernel(op: UnaryKernelOp, inDType: UnaryDType, vec4 = false): Kernel {
  if (!(op in UNARY_F32)) throw new Error(`unary: unknown op '${op}'`);
  const outDType = unaryOutDType(op, inDType);
  let value: string; // expression of type outDType
  let prelude = '';
  if (inDType === 'i32' && UNARY_I32[op] !== undefined) {
    const e = UNARY_I32[op]!;
    value = outDType === 'f32' ? `f32(${e})` : e;
  } else {
    // Float evaluation: i32 input is widened first.
    prelude = MATH_F32 + (outDType === 'i32' ? TO_I32 : '');
    // NaN in, NaN out (builtins do not promise it: SwiftShader's exp(NaN) is inf), except where the
    // cpu reference maps NaN to 0 through a comparison.
    const body = NAN_TO_ZERO.has(op) ? UNARY_F32[op] : `select(${UNARY_F32[op]}, x, is_nan_(x))`;
    const fx = `fn op_(x: f32) -> f32 { return ${body}; }`;
    prelude += '\n' + fx;
    const arg = inDType === 'i32' ? 'f32(x)' : 'x';
    value = outDType === 'i32' ? `to_i32_(op_(${arg}))` : `op_(${arg})`;
  }
  const params = ['n'];
  const [tin, tout] = vec4 ? [`vec4<${inDType}>`, `vec4<${outDType}>`] : [inDType, outDType];
  const body = vec4
    ? `  let v = X[i];
  var r: ${tout};
  for (var c = 0u; c < 4u; c = c + 1u) { let x = v[c]; r[c] = ${value}; }
  Y[i] = r;`
    : `  let x = X[i];
  Y[i] = ${value};`;
  const code = `${prelude}
@group(0) @binding(0) var<storage, read> X: array<${tin}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${tout}>;
${uniformBlock(params, 2)}
${entry1d(`  if (i >= P.n) { return; }
${body}`)}`;
  return { key: `unary:${op}:${inDType}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}
