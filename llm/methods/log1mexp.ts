// log(1 − eˣ) for x ≤ 0, stable at both ends: near 0 as log(−x) + log(−expm1(x)/(−x)) with the
// series of expm1, elsewhere directly (1 − eˣ ≥ 1/2 there). Each branch is evaluated only on its
// own side of the split, so neither produces a NaN that could leak into the gradient.
import { add, log, maximum, minimum, mul, neg, exp, sub, where, gt } from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

const SPLIT = -0.6931471805599453; // −ln 2

export function log1mexp(x: Tensor): Tensor {
  const xs = maximum(x, SPLIT);
  // −expm1(x)/(−x) = 1 + x/2 + x²/6 + … (Horner, 9 terms: < 1e-8 relative for |x| ≤ ln 2)
  let poly = mul(xs, 1 / 362880);
  for (const c of [1 / 40320, 1 / 5040, 1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2]) poly = mul(add(poly, c), xs);
  const near = add(log(neg(xs)), log(add(poly, 1)));
  const far = log(sub(1, exp(minimum(x, SPLIT))));
  return where(gt(x, SPLIT), near, far);
}
