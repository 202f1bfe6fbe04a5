// wgrad plot: a self-contained page (uPlot inlined, nothing fetched) with the charts a run's
// metrics call for, its data aligned by step; and bench compare --html without any CDN.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/program.ts';
import { chartGroups } from '../../cli/plot-html.ts';

const tmp = mkdtempSync(join(tmpdir(), 'wgrad-plot-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let err = '';
beforeEach(() => { err = ''; vi.spyOn(console, 'error').mockImplementation((...a) => { err += a.join(' ') + '\n'; }); });
afterEach(() => vi.restoreAllMocks());

const scripts = (html: string) => [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => ({ attrs: m[1], body: m[2] }));

describe('wgrad plot', () => {
  it('writes loss/eval loss, lr, grad norm, tokens/s and the method\'s metrics into one offline page', async () => {
    const run = join(tmp, 'run');
    const rows = [
      { step: 1, loss: 0.69, lr: 1e-4, grad_norm: 2, tokens: 10, tokens_per_second: 50, epoch: 0, 'rewards/margins': 0.1 },
      { step: 2, loss: 0.6, lr: 9e-5, grad_norm: 1.5, tokens: 10, tokens_per_second: 55, epoch: 0, 'rewards/margins': 0.3 },
      { step: 2, eval_loss: 0.65, 'eval_rewards/margins': 0.2 },
      { step: 3, loss: 0.5, lr: 8e-5, grad_norm: 1, tokens: 10, tokens_per_second: 60, epoch: 0, 'rewards/margins': 0.5 },
    ];
    mkdirSync(run);
    writeFileSync(join(run, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n{"step": 4, "lo');
    writeFileSync(join(run, 'run.json'), JSON.stringify({ settings: { method: 'dpo', beta: 0.1 } }));
    expect(await main(['plot', run])).toBe(0);
    const html = readFileSync(join(run, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!github\.com\/leeoniya)/);
    const s = scripts(html);
    expect(s[0].body).toContain('var uPlot=');
    const data = JSON.parse(s.find((x) => x.attrs.includes('wgrad-metrics'))!.body);
    expect(data.steps).toEqual([1, 2, 3]);
    expect(data.groups.map((g: { title: string }) => g.title)).toEqual(['loss', 'learning rate', 'grad norm', 'tokens/s', 'rewards/margins']);
    expect(data.columns.eval_loss).toEqual([null, 0.65, null]);
    expect(data.columns['eval_rewards/margins']).toEqual([null, 0.2, null]);
    for (const x of s.filter((x) => !x.attrs.includes('json'))) expect(() => new Function(x.body)).not.toThrow();
    expect(html).toContain('<td>beta</td><td>0.1</td>');
  });

  it('names what is missing or malformed', async () => {
    expect(await main(['plot', join(tmp, 'nothing')])).toBe(2);
    expect(err).toContain('has no metrics.jsonl');
    const f = join(tmp, 'bad.jsonl');
    writeFileSync(f, '{"step":1,"loss":1}\n[1,2]\n{"step":3,"loss":1}\n');
    expect(await main(['plot', f, '--out', join(tmp, 'x.html')])).toBe(1);
    expect(err).toContain(`${f}:2: expected an object with a numeric "step"`);
  });

  it('chart groups: eval-only metrics still get a chart', () => {
    expect(chartGroups([{ step: 1, eval_kl: 1 }]).map((g) => g.title)).toEqual(['eval_kl']);
  });
});
