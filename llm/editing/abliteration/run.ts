// Abliteration end to end on token ids: candidates from the train prompts, the direction chosen on
// the validation prompts, optionally a search over edit settings, the weight edit (or its LoRA form),
// and a report on held-out prompts before and after. Writing files is the caller's (cli/commands).
import type { LoRALinear } from '../../../engine/nn/lora.ts';
import type { LlamaForCausalLM } from '../../models/llama/model.ts';
import { lastLogits } from '../forward.ts';
import { biproject, refusalCandidates } from './candidates.ts';
import { completions, scoreEdit, type EvalSetup } from './evaluate.ts';
import { abliterationLoRA } from './lora.ts';
import { REFUSAL_MARKERS, refusalRate } from './refusal.ts';
import { searchEdits, type SearchPoint } from './search.ts';
import { selectDirection, type CandidateScore } from './select.ts';
import { orthogonalizeWeights, type WeightEditOptions } from './weights.ts';

export interface AbliterationPrompts {
  harmfulTrain: number[][]; harmlessTrain: number[][];
  harmfulVal: number[][]; harmlessVal: number[][];
  /** Held out for the report. */
  harmfulTest: number[][]; harmlessTest: number[][];
}

export interface AbliterationSettings extends WeightEditOptions {
  /** Candidate positions, negative offsets from the prompt end (default [−1]). */
  offsets?: number[];
  refusalTokens: number[];
  layer?: number;
  /** Index into offsets (the --position override). */
  positionIndex?: number;
  klThreshold?: number;
  /** Candidates from blocks ≥ (1 − this)·L are skipped (Arditi: 0.2). */
  pruneLayerFraction?: number;
  /** Remove the harmless mean's component from the direction (grimjim). */
  biprojected?: boolean;
  /** 'weights' edits the model; 'lora' wraps o_proj/down_proj in rank-1 LoRA layers. */
  form?: 'weights' | 'lora';
  search?: number;
  seed?: number;
  markers?: readonly string[];
  maxNewTokens?: number;
  stopTokens?: number[];
  batchSize?: number;
  samples?: number;
}

export interface AbliterationReport {
  direction: { layer: number; offset: number; norm: number; biprojected: boolean };
  edit: { form: 'weights' | 'lora'; scale: number; kernel: WeightEditOptions['kernel'] | null; normPreserving: boolean; embedding: boolean };
  selection: { baseline: { harmfulRefusalScore: number; harmlessRefusalScore: number }; candidates: CandidateScore[] };
  heldOut: { harmful: number; harmless: number };
  before: { refusalRate: number };
  after: { refusalRate: number; kl: number };
  samples: { prompt: string; before: string; after: string }[];
  search: SearchPoint[] | null;
}

export interface AbliterationResult {
  /** The edited model: the same object, or a new untied one (weights form on a tied model). */
  model: LlamaForCausalLM;
  direction: Float32Array;
  lora: Map<string, LoRALinear> | null;
  report: AbliterationReport;
}

export async function abliterate(
  model: LlamaForCausalLM, p: AbliterationPrompts, s: AbliterationSettings, io: { decode: (ids: number[]) => string; log?: (m: string) => void },
): Promise<AbliterationResult> {
  const log = io.log ?? (() => {});
  const bs = s.batchSize;
  log(`candidates: mean(harmful) − mean(harmless) at ${model.config.numLayers} block inputs × ${(s.offsets ?? [-1]).length} positions (${p.harmfulTrain.length} + ${p.harmlessTrain.length} prompts)`);
  const cands = await refusalCandidates(model, p.harmfulTrain, p.harmlessTrain, { offsets: s.offsets, batchSize: bs });
  log(`selection on ${p.harmfulVal.length} harmful / ${p.harmlessVal.length} harmless validation prompts`);
  const sel = await selectDirection(model, cands, {
    harmfulVal: p.harmfulVal, harmlessVal: p.harmlessVal, refusalTokens: s.refusalTokens, klThreshold: s.klThreshold, pruneLayerFraction: s.pruneLayerFraction,
    layer: s.layer, offsetIndex: s.positionIndex, batchSize: bs, log,
  });
  const dirOf = (c: CandidateScore) => {
    const i = cands.offsets.indexOf(c.offset);
    const r = cands.directions[c.layer][i];
    return s.biprojected ? biproject(r, cands.harmlessMean[c.layer][i]) : r;
  };
  const direction = Float32Array.from(dirOf(sel.best));
  log(`direction: block ${sel.best.layer}, position ${sel.best.offset} (ablated refusal score ${sel.best.refusalScore.toFixed(3)}, baseline ${sel.baseline.harmfulRefusalScore.toFixed(3)})`);

  const evalOn = (harmful: number[][], harmless: number[][]): EvalSetup => ({
    harmful, harmless, decode: io.decode, maxNewTokens: s.maxNewTokens ?? 64, stopTokens: s.stopTokens ?? [], markers: s.markers ?? REFUSAL_MARKERS, batchSize: bs,
  });
  let search: SearchPoint[] | null = null;
  if (s.search) {
    log(`search: ${s.search} settings scored on the validation prompts`);
    const val = evalOn(p.harmfulVal, p.harmlessVal);
    const eligible = sel.scores.filter((c) => !c.filtered || (s.layer !== undefined && c.layer === s.layer));
    search = await searchEdits(model, eligible, dirOf, await lastLogits(model, p.harmlessVal, { batchSize: bs }), val, { trials: s.search, seed: s.seed, normPreserving: s.normPreserving, log });
  }

  const test = evalOn(p.harmfulTest, p.harmlessTest);
  const baseHarmless = await lastLogits(model, p.harmlessTest, { batchSize: bs });
  const beforeTexts = await completions(model, p.harmfulTest, test);
  const form = s.form ?? 'weights';
  let edited = model, lora: Map<string, LoRALinear> | null = null;
  if (form === 'lora') lora = abliterationLoRA(model, direction, s);
  else edited = orthogonalizeWeights(model, direction, s);
  const after = await scoreEdit(edited, baseHarmless, test);
  const n = Math.min(s.samples ?? 3, p.harmfulTest.length);
  const report: AbliterationReport = {
    direction: { layer: sel.best.layer, offset: sel.best.offset, norm: Math.hypot(...direction), biprojected: !!s.biprojected },
    edit: { form, scale: s.scale ?? 1, kernel: s.kernel ?? null, normPreserving: !!s.normPreserving, embedding: form === 'weights' && (s.embedding ?? true) },
    selection: { baseline: sel.baseline, candidates: sel.scores },
    heldOut: { harmful: p.harmfulTest.length, harmless: p.harmlessTest.length },
    before: { refusalRate: refusalRate(beforeTexts, test.markers) },
    after: { refusalRate: after.refusalRate, kl: after.kl },
    samples: Array.from({ length: n }, (_, i) => ({ prompt: io.decode(p.harmfulTest[i]), before: beforeTexts[i], after: after.texts[i] })),
    search,
  };
  return { model: edited, direction, lora, report };
}

/** The report as a terminal table. */
export function formatAbliterationReport(r: AbliterationReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `direction: block ${r.direction.layer} input, position ${r.direction.offset}, |r| ${r.direction.norm.toFixed(3)}${r.direction.biprojected ? ' (biprojected)' : ''}`,
    `edit: ${r.edit.form}, scale ${r.edit.scale}${r.edit.kernel ? `, kernel max ${r.edit.kernel.maxWeight} at ${r.edit.kernel.maxWeightPosition}, min ${r.edit.kernel.minWeight} over ${r.edit.kernel.minWeightDistance}` : ''}${r.edit.normPreserving ? ', norm-preserving' : ''}${r.edit.embedding ? ', embedding too' : ''}`,
    '',
    `                                  before     after`,
    `refusal rate (${String(r.heldOut.harmful).padStart(4)} held-out harmful)  ${pct(r.before.refusalRate).padStart(7)}   ${pct(r.after.refusalRate).padStart(7)}`,
    `first-token KL (${String(r.heldOut.harmless).padStart(3)} harmless)               ${r.after.kl.toFixed(4).padStart(9)}`,
  ];
  for (const s of r.samples) lines.push('', `prompt: ${JSON.stringify(s.prompt)}`, `  before: ${JSON.stringify(s.before)}`, `  after:  ${JSON.stringify(s.after)}`);
  if (r.search) {
    lines.push('', 'search (Pareto front marked *): block  scale  kernel peak ±dist  min  refusal   KL');
    for (const q of [...r.search].sort((a, b) => a.refusalRate - b.refusalRate || a.kl - b.kl)) {
      lines.push(`  ${q.pareto ? '*' : ' '} ${String(q.layer).padStart(5)}  ${q.scale.toFixed(2)}  ${q.kernel.maxWeightPosition.toFixed(1).padStart(10)} ±${q.kernel.minWeightDistance.toFixed(1)}  ${q.kernel.minWeight.toFixed(2)}  ${pct(q.refusalRate).padStart(6)}  ${q.kl.toFixed(4)}`);
    }
  }
  return lines.join('\n');
}
