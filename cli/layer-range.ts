// "A-B" or "N" as an inclusive block range (the --layers / --control-layers flags).
import { UsageError, type ParseValue } from './args.ts';

export const layerRange: ParseValue<[number, number]> = (raw, flag) => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(raw.trim());
  if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))) throw new UsageError(`${flag} expects a block range A-B (0-based, inclusive) or one block N, got "${raw}"`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
};
