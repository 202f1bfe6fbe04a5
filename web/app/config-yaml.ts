// config.yaml in and out: the keys `wgrad train --config` reads, so a run set up in the tab repeats
// headless. Used by the page (import/export buttons) and the worker (the export zip).
import { parse, stringify } from 'yaml';
import { checkTrainOptions, TRAIN_OPTIONS, type TrainOptionValues } from '../../llm/index.ts';

/** A config.yaml: options that differ from the defaults plus model and data, as `wgrad train --config` reads them. */
export function toYaml(v: TrainOptionValues, model: string, data: string): string {
  const out: Record<string, unknown> = { model, data, 'output-dir': 'out' };
  for (const o of TRAIN_OPTIONS) if (v[o.name] !== undefined && v[o.name] !== o.default) out[o.name] = v[o.name];
  return stringify(out);
}

/** Reads a config.yaml's training options; model, data and output-dir name files on another machine and are skipped. */
export function fromYaml(text: string, file: string): TrainOptionValues {
  let raw: unknown;
  try { raw = parse(text); } catch (e) { throw new Error(`${file}: ${(e as Error).message}`); }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: expected a mapping of option names to values`);
  const opts = Object.fromEntries(Object.entries(raw as Record<string, unknown>).filter(([k]) => !['model', 'data', 'output-dir', 'output_dir', 'tokenizer', 'backend', 'resume', 'valid'].includes(k)));
  return checkTrainOptions(opts, file);
}
