// The per-token GRPO objective (TRL's _compute_loss before normalisation) as one fused primitive
// each way (kernels/grpo-objective.ts): the gradient flows to the policy log-probs only; old/ref
// log-probs, advantages and masks are constants, as in TRL.
//   logp, old, mask, emask [B, T], ref [B, T] | null, adv [B] →
//   loss [B, T] (masked per-token loss), low / high (clip indicators), kl [B, T]
import * as routines from '../../backends/routines/index.ts';
import type { GrpoObjectiveParams } from '../../backends/routines/index.ts';
import { record } from '../autodiff.ts';
import { Tensor } from '../tensor.ts';
import { wrap } from './create.ts';
import { narrow, reshape } from './shape.ts';
import { expectFloat, sameBackend } from './util.ts';

export type GrpoObjectiveOpts = Omit<GrpoObjectiveParams, 'B' | 'T'>;

export function grpoObjective(logp: Tensor, old: Tensor, ref: Tensor | null, adv: Tensor, mask: Tensor, emask: Tensor | null,
  o: GrpoObjectiveOpts): { loss: Tensor; low: Tensor; high: Tensor; kl: Tensor } {
  const op = 'grpo_objective';
  const all = [logp, old, adv, mask, ...(ref ? [ref] : []), ...(emask ? [emask] : [])];
  expectFloat(op, ...all);
  sameBackend(op, ...all);
  if (logp.ndim !== 2) throw new Error(`${op}: logp must be [B, T], got ${logp.describe()}`);
  const [B, T] = logp.shape;
  for (const [name, t] of [['old', old], ['mask', mask], ['ref', ref], ['emask', emask]] as const) {
    if (t && (t.ndim !== 2 || t.shape[0] !== B || t.shape[1] !== T)) throw new Error(`${op}: ${name} must be [${B}, ${T}], got ${t.describe()}`);
  }
  if (adv.ndim !== 1 || adv.shape[0] !== B) throw new Error(`${op}: adv must be [${B}], got ${adv.describe()}`);
  const p: GrpoObjectiveParams = { ...o, B, T };
  const be = logp.backend;
  const { loss, stats } = be.run(routines.grpoObjective, logp.storage, old.storage, ref?.storage ?? null, adv.storage, mask.storage, emask?.storage ?? null, p);
  const out = record(wrap(loss, [B, T]), op, [logp], (g) => [
    wrap(g.backend.run(routines.grpoObjectiveBackward, logp.storage, old.storage, ref?.storage ?? null, adv.storage, mask.storage, emask?.storage ?? null, g.storage, p), [B, T]),
  ]);
  const s = wrap(stats, [B, T, 3]);
  const col = (k: number) => reshape(narrow(s, 2, k, 1), [B, T]);
  return { loss: out, low: col(0), high: col(1), kl: col(2) };
}
