// Learning-rate schedules (as transformers' get_*_schedule_with_warmup): linear warmup from 0,
// then constant, linear decay to 0, or cosine decay to 0 (optionally to a floor).

export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export function lrAt(step: number, o: { kind: ScheduleKind; baseLr: number; warmupSteps?: number; totalSteps: number; minLr?: number }): number {
  const warm = o.warmupSteps ?? 0;
  if (step < warm) return (o.baseLr * step) / Math.max(1, warm);
  if (o.kind === 'constant') return o.baseLr;
  const progress = Math.min(1, (step - warm) / Math.max(1, o.totalSteps - warm));
  const min = o.minLr ?? 0;
  if (o.kind === 'linear') return min + (o.baseLr - min) * (1 - progress);
  return min + (o.baseLr - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
