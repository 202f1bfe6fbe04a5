// Log-probability of one target per row under a softmax over the row, and its gradient, without the
// [rows, cols] log-softmax ever being written (cross-entropy, sequence log-probs of DPO and kin).
//
// Forward: X [rows, cols] f32, T [rows] i32 → LOGP [rows], LSE [rows]
//   LSE[r]  = m + log(s),              m = max(row), s = Σ exp(x − m)      (rowstats.ts, one read)
//   LOGP[r] = (X[r, t] − m) − log(s)   0 where t == ignore; NaN where t ∉ [0, vocab)
// (x_t − m) first: with logits near 1e4 the lse alone has ulp ~1e-3, the difference keeps the digits.
// One workgroup per row. Bindings: 0 X, 1 T, 2 LOGP, 3 LSE, 4 uniform { rows, cols, vocab, ignore,
// hasIgnore }. Dispatch: rows workgroups, folded. vec4 variant (vocab % 4 = 0): X as vec4s, cols counts vec4s.
//
// Backward: X, T, LSE, G [rows] → Y [rows, cols], one thread per element (or vec4) in one pass:
//   Y[r, c] = G[r] · (onehot(t)[c] − exp(X[r, c] − LSE[r]))   zeros on ignored rows, NaN on bad targets.
// Bindings: 0 X, 1 T, 2 LSE, 3 G, 4 Y, 5 uniform { n, cols, vocab, ignore, hasIgnore } (n and cols
// in X's units). Dispatch: ceil(n / 256) workgroups, folded.
// `ignore` is the i32 bit pattern of ignoreIndex; hasIgnore = 0 ignores nothing.
import { rowStatsBody, rowStatsDecls } from './rowstats.ts';
import { entry1d, LINEAR_WORKGROUP, NONFINITE, type Kernel, uniformBlock } from './wgsl.ts';

const TARGET_FNS = `fn ignored_(t: i32) -> bool { return P.hasIgnore != 0u && t == bitcast<i32>(P.ignore); }
fn in_vocab_(t: i32) -> bool { return t >= 0 && u32(t) < P.vocab; }`;

export function tokenLogprobsKernel(wg: number, vec4 = false): Kernel {
  const params = ['rows', 'cols', 'vocab', 'ignore', 'hasIgnore'];
  const xt = vec4 ? 'X[base + u32(t) / 4u][u32(t) % 4u]' : 'X[base + u32(t)]';
  const code = `
@group(0) @binding(0) var<storage, read> X: array<${vec4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> T: array<i32>;
@group(0) @binding(2) var<storage, read_write> LOGP: array<f32>;
@group(0) @binding(3) var<storage, read_write> LSE: array<f32>;
${uniformBlock(params, 4)}
${rowStatsDecls(wg)}
${TARGET_FNS}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  ${LINEAR_WORKGROUP}
  if (w >= P.rows) { return; }
  let base = w * P.cols;
${rowStatsBody(wg, vec4)}
  if (lid == 0u) {
    let ls = log(s);
    LSE[w] = select(m + ls, m, m == f32_neg_inf() || m == f32_inf());
    let t = T[w];
    var lp = f32_nan();
    if (ignored_(t)) { lp = 0.0; } else if (in_vocab_(t)) { lp = (${xt} - m) - ls; }
    LOGP[w] = lp;
  }
}`;
  return { key: `tokenLogprobs:wg${wg}${vec4 ? ':v4' : ''}`, code, params, workgroupSize: wg };
}

export function tokenLogprobsBackwardKernel(vec4 = false): Kernel {
  const params = ['n', 'cols', 'vocab', 'ignore', 'hasIgnore'];
  const ty = vec4 ? 'vec4<f32>' : 'f32';
  const onehot = vec4
    ? `let c0 = (i % P.cols) * 4u;
  let oh = select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<u32>(c0, c0 + 1u, c0 + 2u, c0 + 3u) == vec4<u32>(u32(t)));`
    : 'let oh = select(0.0, 1.0, i % P.cols == u32(t));';
  const code = `
${NONFINITE}
@group(0) @binding(0) var<storage, read> X: array<${ty}>;
@group(0) @binding(1) var<storage, read> T: array<i32>;
@group(0) @binding(2) var<storage, read> LSE: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<${ty}>;
${uniformBlock(params, 5)}
${TARGET_FNS}
${entry1d(`  if (i >= P.n) { return; }
  let r = i / P.cols;
  let t = T[r];
  if (ignored_(t)) { Y[i] = ${ty}(0.0); return; }
  if (!in_vocab_(t)) { Y[i] = ${ty}(f32_nan()); return; }
  ${onehot}
  Y[i] = G[r] * (oh - exp(X[i] - ${ty}(LSE[r])));`)}`;
  return { key: `tokenLogprobsBackward${vec4 ? ':v4' : ''}`, code, params, workgroupSize: 256 };
}
