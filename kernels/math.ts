// f32 math helpers shared by elementwise kernels. WGSL builtins are used where their accuracy is
// specified well enough; the rest are written out so every GPU gives the same answer:
//   - erf: no WGSL builtin. Maclaurin series near 0 (keeps relative accuracy), Abramowitz & Stegun
//     7.1.26 elsewhere (|error| ≤ 1.5e-7).
//   - tanh: the builtin overflows to NaN on some drivers for large |x|; use exp(-2|x|).
//   - sin/cos: WGSL only promises 2^-11 absolute error inside [-π, π] (SwiftShader is that bad), and
//     RoPE feeds angles in the thousands. Cody–Waite reduction by π/2 (split in parts of 8, 11 and
//     24 bits, so k·part is exact for the first two while |k| < 2^13), then the Cephes sinf/cosf
//     minimax polynomials on [-π/4, π/4] and the quadrant picks which one, with which sign.
//   - pow: WGSL pow is undefined for x < 0; integer exponents of negative bases are common (x^2, x^3).
//   - log: builtins disagree off the positive axis (SwiftShader: log(0) ≈ -88, log(-1) = 0), so
//     0 → -inf and negatives → NaN are spelled out.
//   - log1p: Goldberg's trick (exact-ish log(1+y) for tiny y) for softplus / logsigmoid; expm1: its
//     series near 0 (log1mexp and its derivative need both).
import { NONFINITE } from './wgsl.ts';

export const MATH_F32 = `${NONFINITE}
fn sigmoid_(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.1) {
    let x2 = x * x; // tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 (+ O(x^9))
    return x * (1.0 + x2 * (-0.33333333333 + x2 * (0.13333333333 + x2 * -0.05396825397)));
  }
  let e = exp(-2.0 * a);
  return sign(x) * (1.0 - e) / (1.0 + e);
}
fn erf_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.5) {
    let x2 = x * x; // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320)
    return 1.1283791670955126 * x * (1.0 + x2 * (-0.3333333333333333 + x2 * (0.1 + x2 * (-0.023809523809523808
      + x2 * (0.004629629629629629 + x2 * -0.0007575757575757576)))));
  }
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-a * a));
}
fn log_(x: f32) -> f32 {
  if (x > 0.0) { return log(x); }
  return select(f32_nan(), f32_neg_inf(), x == 0.0);
}
fn log1p_(y: f32) -> f32 {
  let u = 1.0 + y;
  if (u == 1.0) { return y; }
  return log_(u) * (y / (u - 1.0));
}
// e^x − 1: the series where exp(x) − 1 would cancel (|x| < 0.5; 8 terms, < 1e-9 relative), else exp.
fn expm1_(x: f32) -> f32 {
  if (abs(x) < 0.5) {
    return x * (1.0 + x * (0.5 + x * (0.16666666666666666 + x * (0.041666666666666664 + x * (0.008333333333333333
      + x * (0.001388888888888889 + x * (0.0001984126984126984 + x * 0.0000248015873015873)))))));
  }
  return exp(x) - 1.0;
}
fn softplus_(x: f32) -> f32 { return max(x, 0.0) + log1p_(exp(-abs(x))); }
// (sin, cos) of x.
fn sincos_(x: f32) -> vec2<f32> {
  let j = round(x * 0.6366197723675814);
  let r = ((x - j * 1.5703125) - j * 4.837512969970703125e-4) - j * 7.54978995489188216e-8;
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  let c = 1.0 - 0.5 * r2 + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  let q = i32(j) & 3; // quadrant; & 3 is a true modulo 4 for negative j too
  if (q == 0) { return vec2<f32>(s, c); }
  if (q == 1) { return vec2<f32>(c, -s); }
  if (q == 2) { return vec2<f32>(-s, -c); }
  return vec2<f32>(-c, s);
}
fn sin_(x: f32) -> f32 { return sincos_(x).x; }
fn cos_(x: f32) -> f32 { return sincos_(x).y; }
fn pow_(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (y == 1.0) { return x; }
  if (y == 2.0) { return x * x; }
  if (y == 0.5 && x >= 0.0) { return sqrt(x); }
  let ax = abs(x);
  if (ax == 0.0) { return select(f32_inf(), 0.0, y > 0.0); }
  var r = exp2(y * log2(ax));
  if (x < 0.0) {
    if (floor(y) != y) { return f32_nan(); }
    if (fract(y * 0.5) != 0.0) { r = -r; } // odd integer exponent keeps the sign
  }
  return r;
}
`;

/** Integer power for i32 (index arithmetic); negative exponents follow truncation of 1/x^|y|. */
export const MATH_I32 = `
fn ipow_(x: i32, y: i32) -> i32 {
  if (y < 0) { return select(0, select(-1, 1, (y & 1) == 0), x == -1) + select(0, 1, x == 1); }
  var r = 1; var b = x; var e = y;
  loop {
    if (e == 0) { break; }
    if ((e & 1) == 1) { r = r * b; }
    b = b * b; e = e >> 1u;
  }
  return r;
}
`;
