// The GRPO objective as TRL 1.x defines it (trl/trainer/grpo_trainer.py, _compute_loss), per token
// over a micro-batch of B completions of T tokens:
//   log_ratio = logp − old                                   (old = logp detached when μ = 1)
//   token level:    w = log_ratio [B, T];  sequence level (GSPO): w = Σ_t log_ratio·m / max(Σ_t m, 1) [B, 1]
//   ρ = exp(w)
//   grpo/bnpo/dr_grpo/dapo: L = −min(ρ'·A, clamp(ρ, 1 − ε, 1 + ε_high)·A),  ρ' = min(ρ, δ) if δ else ρ
//   cispo:                  L = −sg(min(ρ, ε_high))·A·logp
//   L ·= entropy mask (top_entropy_quantile < 1);  L += β·k3,  k3 = exp(ref − logp) − (ref − logp) − 1
// Normalisation (loss of one micro-batch, before gradient accumulation):
//   grpo    mean_b (Σ_t L·m / max(Σ_t m, 1))
//   bnpo    Σ L·m / max(Σ m, 1)
//   dr_grpo Σ L·m / (B · max_completion_length)
//   dapo, cispo  Σ L·m / num_items_in_batch (completion tokens of the whole generation batch)
// TRL then divides grpo/bnpo/dr_grpo by the accumulation steps; dapo/cispo are already global.
// Metrics, detached, named as TRL logs them: kl, entropy, clip_ratio/{low,high,region}_mean,
// clip_ratio/low_min, clip_ratio/high_max (cispo: cispo_clip_ratio).
import { detach } from '../../engine/autodiff.ts';
import {
  add, div, exp, full, grpoObjective, gt, lt, maximum, minimum, mul, narrow, neg, reshape, sub, sum, where,
} from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';

export type GrpoLossType = 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo' | 'cispo';
export const GRPO_LOSS_TYPES: readonly GrpoLossType[] = ['grpo', 'bnpo', 'dr_grpo', 'dapo', 'cispo'];
export type ImportanceSamplingLevel = 'token' | 'sequence';

export interface GrpoLossOpts {
  /** TRL's default is dapo. */
  lossType?: GrpoLossType;
  /** KL coefficient (default 0: no reference model). */
  beta?: number;
  /** Lower clip ε (default 0.2). */
  epsilon?: number;
  /** Upper clip ε_high (default ε); for cispo, the cap on the ratio itself. */
  epsilonHigh?: number;
  /** Upper cap of the unclipped ratio (two-sided clipping), null: none. */
  delta?: number | null;
  importanceSamplingLevel?: ImportanceSamplingLevel;
  /** dr_grpo's constant denominator. */
  maxCompletionLength?: number;
  /** dapo/cispo: completion tokens of the whole generation batch (default: this micro-batch's). */
  numItemsInBatch?: number;
  /**
   * The per-token objective as one fused primitive each way (engine grpoObjective, default), or
   * composed from elementwise ops (the reference the fused kernel is tested against).
   */
  fused?: boolean;
}

export interface GrpoInputs {
  /** Policy log-probs of the completion tokens [B, T] (with gradient). */
  logps: Tensor;
  /** Log-probs at generation time [B, T]; null: logps detached (μ = 1). */
  oldLogps?: Tensor | null;
  /** Reference log-probs [B, T] (needed when β ≠ 0). */
  refLogps?: Tensor | null;
  /** One advantage per completion [B]. */
  advantages: Tensor;
  /** Completion mask [B, T], 1 on tokens up to and including the first EOS. */
  mask: Tensor;
  /** Per-token entropies [B, T] (logged; no gradient). */
  entropies?: Tensor | null;
  /** Top-entropy-quantile mask [B, T] (0/1), null: every token. */
  entropyMask?: Tensor | null;
}

export interface GrpoLoss {
  /** The micro-batch loss as TRL computes it before dividing by the accumulation steps. */
  loss: Tensor;
  metrics: Record<string, Tensor>;
}

/** torch.clamp: the gradient passes where lo ≤ x ≤ hi, bounds inclusive. */
function clamp(x: Tensor, lo: number | null, hi: number | null): Tensor {
  let y = x;
  if (hi !== null) y = where(gt(y, hi), full([], hi, { backend: x.backend }), y);
  if (lo !== null) y = where(lt(y, lo), full([], lo, { backend: x.backend }), y);
  return y;
}

export function resolveGrpoOpts(o: GrpoLossOpts) {
  const lossType = o.lossType ?? 'dapo';
  if (!GRPO_LOSS_TYPES.includes(lossType)) throw new Error(`grpo: unknown loss type "${lossType}" (expected ${GRPO_LOSS_TYPES.join(', ')})`);
  const level = o.importanceSamplingLevel ?? 'token';
  if (level !== 'token' && level !== 'sequence') throw new Error(`grpo: importance sampling level "${level}" (expected token or sequence)`);
  const epsilon = o.epsilon ?? 0.2, epsilonHigh = o.epsilonHigh ?? epsilon, beta = o.beta ?? 0;
  if (!(epsilon >= 0) || !(epsilonHigh >= 0)) throw new Error(`grpo: epsilon ${epsilon} and epsilon_high ${epsilonHigh} must be ≥ 0`);
  if (!Number.isFinite(beta) || beta < 0) throw new Error(`grpo: beta ${beta} must be a finite number ≥ 0`);
  const delta = o.delta ?? null;
  if (delta !== null && !(delta > 1 + epsilonHigh)) throw new Error(`grpo: delta ${delta} must exceed 1 + epsilon_high = ${1 + epsilonHigh}`);
  return { lossType, level, epsilon, epsilonHigh, beta, delta, maxCompletionLength: o.maxCompletionLength, numItemsInBatch: o.numItemsInBatch, fused: o.fused ?? true };
}

export function grpoLoss(inp: GrpoInputs, opts: GrpoLossOpts = {}): GrpoLoss {
  const o = resolveGrpoOpts(opts);
  const { logps, mask } = inp;
  if (logps.ndim !== 2) throw new Error(`grpo: logps must be [B, T], got ${logps.describe()}`);
  const [B, T] = logps.shape;
  const check = (name: string, t: Tensor | null | undefined, shape: number[]) => {
    if (t && (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`grpo: ${name} must be [${shape.join(', ')}], got ${t.describe()}`);
    }
  };
  check('mask', mask, [B, T]); check('oldLogps', inp.oldLogps, [B, T]); check('refLogps', inp.refLogps, [B, T]);
  check('advantages', inp.advantages, [B]); check('entropies', inp.entropies, [B, T]); check('entropyMask', inp.entropyMask, [B, T]);
  if (o.beta !== 0 && !inp.refLogps) throw new Error('grpo: beta ≠ 0 needs reference log-probs');
  if (o.lossType === 'dr_grpo' && !(o.maxCompletionLength! > 0)) throw new Error('grpo: dr_grpo needs maxCompletionLength > 0');

  const seqTokens = sum(mask, -1, true); // [B, 1]
  const { masked, low, high, kl } = o.fused ? fusedObjective(inp, o) : composedObjective(inp, o, seqTokens);
  const seqCount = maximum(seqTokens, 1);
  const totalTokens = sum(mask);
  let loss: Tensor;
  switch (o.lossType) {
    case 'grpo': loss = div(sum(div(sum(masked, -1, true), seqCount)), B); break;
    case 'bnpo': loss = div(sum(masked), maximum(totalTokens, 1)); break;
    case 'dr_grpo': loss = div(sum(masked), B * o.maxCompletionLength!); break;
    default: loss = o.numItemsInBatch !== undefined ? div(sum(masked), Math.max(o.numItemsInBatch, 1)) : div(sum(masked), maximum(totalTokens, 1));
  }
  return { loss, metrics: grpoMetrics(o, low, high, mask, seqTokens, kl, inp.entropies ?? null) };
}

/** Per-token loss·mask [B, T] and the detached clip indicators ([B, T], or [B, 1] per sequence) and KL. */
interface Objective { masked: Tensor; low: Tensor; high: Tensor; kl: Tensor | null }

function fusedObjective(inp: GrpoInputs, o: ReturnType<typeof resolveGrpoOpts>): Objective {
  const r = grpoObjective(inp.logps, inp.oldLogps ?? detach(inp.logps), o.beta !== 0 ? inp.refLogps! : null, inp.advantages, inp.mask,
    inp.entropyMask ?? null, { sequence: o.level === 'sequence', cispo: o.lossType === 'cispo', epsLow: o.epsilon, epsHigh: o.epsilonHigh, delta: o.delta, beta: o.beta });
  const perSeq = (x: Tensor) => (o.level === 'sequence' ? narrow(x, 1, 0, 1) : x);
  return { masked: r.loss, low: perSeq(r.low), high: perSeq(r.high), kl: o.beta !== 0 ? r.kl : null };
}

function composedObjective(inp: GrpoInputs, o: ReturnType<typeof resolveGrpoOpts>, seqTokens: Tensor): Objective {
  const { logps, mask } = inp;
  const B = logps.shape[0];
  const A = reshape(inp.advantages, [B, 1]);
  const old = inp.oldLogps ?? detach(logps);
  const logRatio = sub(logps, old);
  const logW = o.level === 'token' ? logRatio : div(sum(mul(logRatio, mask), -1, true), maximum(seqTokens, 1));
  const coef1 = exp(logW); // [B, T] or [B, 1]
  let perToken: Tensor;
  if (o.lossType === 'cispo') {
    perToken = neg(mul(mul(detach(clamp(coef1, null, o.epsilonHigh)), A), logps));
  } else {
    const coef2 = clamp(coef1, 1 - o.epsilon, 1 + o.epsilonHigh);
    const c1 = o.delta !== null ? clamp(coef1, null, o.delta) : coef1;
    perToken = neg(minimum(mul(c1, A), mul(coef2, A)));
  }
  if (inp.entropyMask) perToken = mul(perToken, inp.entropyMask);
  let kl: Tensor | null = null;
  if (o.beta !== 0) {
    const d = sub(inp.refLogps!, logps);
    kl = sub(sub(exp(d), d), 1);
    perToken = add(perToken, mul(kl, o.beta));
  }
  const c = detach(coef1);
  const low = mul(lt(c, 1 - o.epsilon), lt(A, 0));
  const high = o.lossType === 'cispo' ? mul(gt(c, o.epsilonHigh), gt(A, 0)) : mul(gt(c, 1 + o.epsilonHigh), gt(A, 0));
  // The per-token loss of a sequence-level ratio is [B, 1]; the mask broadcasts it to [B, T].
  return { masked: mul(perToken, mask), low, high, kl: kl && detach(kl) };
}

/** TRL's logged statistics of one micro-batch (all detached scalars). */
function grpoMetrics(o: ReturnType<typeof resolveGrpoOpts>, low: Tensor, high: Tensor, mask: Tensor, seqTokens: Tensor,
  kl: Tensor | null, entropies: Tensor | null): Record<string, Tensor> {
  const B = mask.shape[0];
  // TRL tells the two levels apart by shape: x [B, 1] holds one value per sequence.
  const perSequence = (x: Tensor) => x.shape[1] === 1;
  // global_masked_mean: Σ x·m / max(Σ m, 1), or the mean of per-sequence values.
  const gmean = (x: Tensor) => (perSequence(x) ? div(sum(x), B) : div(sum(mul(x, mask)), maximum(sum(mask), 1)));
  const m: Record<string, Tensor> = {};
  if (kl) m.kl = gmean(kl);
  if (entropies) m.entropy = gmean(entropies);
  if (o.lossType === 'cispo') {
    m.cispo_clip_ratio = gmean(high);
    return m;
  }
  const region = maximum(low, high);
  m['clip_ratio/low_mean'] = gmean(low);
  m['clip_ratio/high_mean'] = gmean(high);
  m['clip_ratio/region_mean'] = gmean(region);
  // masked_seq_mean then nanmin / nanmax over sequences: a sequence with no tokens is 0/0 = NaN in
  // TRL and skipped; all of them NaN gives NaN.
  const empty = lt(seqTokens, 0.5);
  const nanReduce = (x: Tensor, kind: 'min' | 'max') => {
    const backend = x.backend;
    const v = perSequence(x) ? x : where(empty, full([], kind === 'min' ? Infinity : -Infinity, { backend }), div(sum(mul(x, mask), -1, true), seqTokens));
    const r = reshape(kind === 'min' ? v.min() : v.max(), []);
    return where(lt(r.abs(), Infinity), r, full([], NaN, { backend }));
  };
  m['clip_ratio/low_min'] = nanReduce(low, 'min');
  m['clip_ratio/high_max'] = nanReduce(high, 'max');
  return m;
}

/**
 * TRL's get_high_entropy_mask on the host: the threshold is torch.quantile (linear interpolation) of
 * the entropies of the masked tokens at q = 1 − top_entropy_quantile; a token counts when its
 * entropy is ≥ the threshold and its mask is 1. entropies, mask [B][T] → 0/1 [B][T].
 */
export function highEntropyMask(entropies: readonly (readonly number[])[], mask: readonly (readonly number[])[], q: number): number[][] {
  const vals = entropies.flatMap((row, b) => row.filter((_, t) => mask[b][t] !== 0)).sort((x, y) => x - y);
  if (!vals.length) return entropies.map((row) => row.map(() => 0));
  const pos = q * (vals.length - 1), lo = Math.floor(pos), hi = Math.min(lo + 1, vals.length - 1);
  const threshold = vals[lo] + (vals[hi] - vals[lo]) * (pos - lo);
  return entropies.map((row, b) => row.map((e, t) => (mask[b][t] !== 0 && e * mask[b][t] >= threshold ? 1 : 0)));
}
