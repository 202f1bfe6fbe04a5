// Run folders and run health, in process: refusal/resume/overwrite decisions, metrics.jsonl cut
// back to the checkpoint step, stale .tmp folders, checkpoint retention, the divergence monitor and
// the data summary's counts and warnings.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../engine/index.ts';
import { tensor } from '../../engine/ops/index.ts';
import { removeStaleTemporaries, saveCheckpoint } from '../../llm/train/checkpoint.ts';
import { DivergenceMonitor } from '../../llm/train/divergence.ts';
import { prepareRunDir, truncateMetrics, type RunRecord } from '../../llm/train/run-dir.ts';
import { formatDataSummary, summarizeData, type DatasetCounts } from '../../llm/data/summary.ts';

const tmp = mkdtempSync(join(tmpdir(), 'wgrad-rundir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const record = (settings: Record<string, unknown>): RunRecord => ({ settings, data: { 'd.jsonl': { sha256: 'ab', bytes: 2 } }, seed: 0, versions: {}, device: 'cpu', created: '' });

describe('run folders', () => {
  it('refuses a folder holding a run; resumes only with the same settings and data; overwrite starts over', async () => {
    const b = await createBackend({ backend: 'cpu' });
    const dir = join(tmp, 'run');
    await prepareRunDir(dir, record({ lr: 1 }));
    await expect(prepareRunDir(dir, record({ lr: 1 }))).rejects.toThrow(/holds another run \(run.json\); pass resume/);
    await expect(prepareRunDir(dir, record({ lr: 1 }), { resume: true })).rejects.toThrow(/has no checkpoint to continue from/);
    const w = tensor([1, 2], [2], { backend: b });
    await saveCheckpoint(join(dir, 'checkpoints'), [['w', w]], [], { step: 2, data: null, rng: {} });
    writeFileSync(join(dir, 'metrics.jsonl'), [1, 2, 3].map((s) => JSON.stringify({ step: s, loss: 1 })).join('\n') + '\n{"step": 4, "lo');
    await expect(prepareRunDir(dir, record({ lr: 2 }), { resume: true })).rejects.toThrow('other settings: lr 1 (now 2)');
    await expect(prepareRunDir(dir, { ...record({ lr: 1 }), data: { 'd.jsonl': { sha256: 'cd', bytes: 2 } } }, { resume: true })).rejects.toThrow('the data changed');
    const r = await prepareRunDir(dir, record({ lr: 1, steps: 9 }), { resume: true, mayDiffer: ['steps'] });
    expect(r).toMatchObject({ step: 2, checkpoint: join(dir, 'checkpoints', 'step-0000002') });
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step)).toEqual([1, 2]);
    expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).resumed).toHaveLength(1);
    await expect(prepareRunDir(dir, record({}), { resume: true, overwrite: true })).rejects.toThrow('contradict');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await prepareRunDir(dir, record({ lr: 5 }), { overwrite: true });
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'run.json']);
    w.dispose();
    b.destroy();
  });

  it('truncateMetrics keeps train and eval records up to the step', async () => {
    const f = join(tmp, 'm.jsonl');
    writeFileSync(f, ['{"step":1,"loss":2}', '{"step":2,"eval_loss":3}', '{"step":3,"loss":1}'].join('\n') + '\n');
    expect(await truncateMetrics(f, 2)).toBe(1);
    expect(readFileSync(f, 'utf8')).toBe('{"step":1,"loss":2}\n{"step":2,"eval_loss":3}\n');
  });

  it('keeps the newest N checkpoints, and removes .tmp folders of dead processes only', async () => {
    const b = await createBackend({ backend: 'cpu' });
    const dir = join(tmp, 'ck');
    const w = tensor([1], [1], { backend: b });
    for (const step of [1, 2, 3]) await saveCheckpoint(dir, [['w', w]], [], { step, data: null, rng: {} }, 2);
    expect(readdirSync(dir)).toEqual(['step-0000002', 'step-0000003']);
    mkdirSync(join(dir, 'step-0000004.tmp-999999999'));
    mkdirSync(join(dir, `step-0000005.tmp-${process.ppid}`)); // a live process: another run writing
    expect(await removeStaleTemporaries(dir)).toEqual(['step-0000004.tmp-999999999']);
    expect(existsSync(join(dir, `step-0000005.tmp-${process.ppid}`))).toBe(true);
    w.dispose();
    b.destroy();
  });
});

describe('run health', () => {
  it('divergence: a loss worse than uniform guessing for 3 steps, or eval loss rising 3 times', () => {
    const m = new DivergenceMonitor({ vocabSize: 512 }); // bound ln 512 + 1 = 7.238
    expect(m.step(1, 9)).toBeNull();
    expect(m.step(2, 6)).toBeNull(); // a spike is not divergence
    expect(m.step(3, 9)).toBeNull();
    expect(m.step(4, 9)).toBeNull();
    expect(m.step(5, 9)).toMatch(/loss 9.000 at step 5 has been above ln\(vocab 512\) \+ 1 = 7.238/);
    expect(m.step(6, 9)).toBeNull(); // said once
    expect(m.since).toBe(3); // the streak began at step 3: checkpoints before it are the good ones
    const e = new DivergenceMonitor({});
    expect([e.eval(1, 2), e.eval(2, 2.1), e.eval(3, 2.05), e.eval(4, 2.2), e.eval(5, 2.3)]).toEqual([null, null, null, null, null]);
    expect(e.eval(6, 2.4)).toMatch(/eval loss rose 3 evaluations in a row/);
    expect(new DivergenceMonitor({}).step(1, 1e9)).toBeNull(); // no bound without a vocabulary (preference losses)
  });

  it('the data summary counts every row and warns about silent losses and identical pairs', () => {
    const counts: DatasetCounts = { rows: 100, examples: 32, invalid: 0, errors: [], truncated: 100, droppedTooLong: 0, droppedNoLoss: 68, boundaryMismatches: 0, formats: { alpaca: 32, text: 0 }, tokens: 4096, lossTokens: 307 };
    const s = summarizeData({ train: counts, val: null, maxLength: 128, validationSource: 'none', identicalPairs: 3 });
    expect(s.train).toMatchObject({ rows: 100, kept: 32, truncated: 100, dropped: { too_long: 0, no_loss_tokens_after_truncation: 68 } });
    const text = formatDataSummary(s).join('\n');
    expect(text).toContain('data: alpaca 32; max length 128');
    expect(text).toContain('100 rows read, 32 kept, 100 truncated, 68 dropped (68 with no completion tokens left after truncation), 0 skipped as invalid');
    expect(text).toContain('warning: 68 of 100 training rows were dropped by truncation to 128 tokens');
    expect(text).toContain('warning: 3 pair(s) have identical chosen and rejected completions');
  });
});
