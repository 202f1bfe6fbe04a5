// `wgrad bench compare` on fixture results: rows matched by workload and dtype, ratios to the
// chosen baseline, the measured roofline per file, the terminal table and the HTML page's data.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareFiles, renderCompareTable } from '../../bench/compare.ts';
import { chartData, renderCompareHtml } from '../../bench/html.ts';
import { attainable } from '../../bench/roofline.ts';
import { validateBenchFile } from '../../bench/validate.ts';

const load = (name: string) => validateBenchFile(JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')), name);
const wgrad = load('wgrad-h200.json');
const torch = load('torch-h200.json');

const line = (c: ReturnType<typeof compareFiles>, id: string, dtype: string) => {
  const l = c.lines.find((x) => x.id === id && x.dtype === dtype);
  if (!l) throw new Error(`no line ${id} [${dtype}]`);
  return l;
};

describe('bench compare', () => {
  it('matches rows by id and dtype and gives baseline time / time', () => {
    const c = compareFiles([wgrad, torch], 'pytorch');
    expect(c.baseline).toBe(1);
    // medians: wgrad 3.5 ms, torch f32 2.8 ms.
    expect(line(c, 'matmul_4096_nn', 'f32').cells[0]!.ratio).toBeCloseTo(2.8 / 3.5, 12);
    expect(line(c, 'matmul_4096_nn', 'f32').cells[1]!.ratio).toBe(1);
    // Only torch has tf32/bf16 rows: wgrad's cells are empty there.
    expect(line(c, 'matmul_4096_nn', 'tf32').cells[0]).toBeUndefined();
    // f32 rows first, then tf32 and bf16 of the same workload.
    const order = c.lines.filter((l) => l.id === 'matmul_4096_nn').map((l) => l.dtype);
    expect(order).toEqual(['f32', 'tf32', 'bf16']);
  });

  it("compares a tf32/bf16 row with the baseline's f32 row when the baseline has no such dtype", () => {
    const c = compareFiles([wgrad, torch]); // baseline: the first file (wgrad, f32 only)
    const tf32 = line(c, 'matmul_4096_nn', 'tf32').cells[1]!;
    expect(tf32.ratio).toBeCloseTo(3.5 / 0.4, 12);
    expect(tf32.ratioAgainst).toBe('f32');
    expect(line(c, 'lora_sft_step_smollm2-135m_b8t512', 'f32').cells[1]!.ratio).toBeCloseTo(2550 / 157, 12);
  });

  it('measures each file\'s roofline from its own rows', () => {
    const c = compareFiles([wgrad, torch]);
    const w = c.rooflines.filter((r) => r.file === 0);
    expect(w.map((r) => r.dtype)).toEqual(['f32']);
    expect(w[0].peakTflops).toBeCloseTo((2 * 4096 ** 3) / 3.5 / 1e9, 9);
    expect(w[0].peakFrom).toBe('matmul_4096_nn');
    expect(w[0].bandwidthGbps).toBeCloseTo((8 * (64 << 20)) / 0.128 / 1e6, 9); // copy beats add here
    expect(w[0].bandwidthFrom).toBe('copy_64M [f32]');
    const t = Object.fromEntries(c.rooflines.filter((r) => r.file === 1).map((r) => [r.dtype, r.peakTflops]));
    expect(t.tf32).toBeCloseTo((2 * 4096 ** 3) / 0.4 / 1e9, 9);
    expect(t.bf16).toBeCloseTo((2 * 4096 ** 3) / 0.2 / 1e9, 9);
    // Below the ridge the bandwidth bounds, above it the peak.
    expect(attainable(w[0], 1)).toBeCloseTo(w[0].bandwidthGbps / 1000, 9);
    expect(attainable(w[0], 1e6)).toBe(w[0].peakTflops);
  });

  it('renders a terminal table with both devices, rates, ratios and the roofline', () => {
    const text = renderCompareTable(compareFiles([wgrad, torch], 2 - 1));
    expect(text).toContain('[1] wgrad webgpu H200: wgrad 0.1.0 @8264ea3a1b2c, NVIDIA H200 (webgpu), node 20.20.2');
    expect(text).toContain('[2] pytorch NVIDIA H200 (baseline): pytorch 2.11.0+cu128');
    const mm = text.split('\n').find((l) => l.startsWith('matmul_4096_nn [f32]'))!;
    expect(mm).toMatch(/3\.50\s+39\.3 TFLOP\/s\s+0\.80×\s+2\.80\s+49\.1 TFLOP\/s\s+1\.00×/);
    const copy = text.split('\n').find((l) => l.startsWith('copy_64M [f32]'))!;
    expect(copy).toContain('4194 GB/s');
    const sft = text.split('\n').find((l) => l.startsWith('lora_sft_step'))!;
    expect(sft).toContain('1606 tok/s'); // 4096 tokens / 2.55 s
    expect(text).toMatch(/pytorch NVIDIA H200\s+bf16\s+687/);
    expect(text).toContain('[2] lora_sft_step_tinyllama-1.1b_b4t512 [bf16]: error: OutOfMemoryError');
  });

  it('writes an HTML page holding the data, the ratio chart and a roofline chart per file', () => {
    const c = compareFiles([wgrad, torch], 1);
    const html = renderCompareHtml(c);
    const json = (id: string) => JSON.parse(new RegExp(`<script type="application/json" id="${id}">(.*?)</script>`, 's').exec(html)![1]);
    const data = json('wgrad-bench-data');
    expect(data.labels).toEqual(['wgrad webgpu H200', 'pytorch NVIDIA H200']);
    expect(data.rooflines).toHaveLength(4); // wgrad f32; torch f32, tf32, bf16
    const charts = chartData(c);
    expect(charts.ratio!.values).toContainEqual({ workload: 'matmul_4096_nn [f32]', file: 'wgrad webgpu H200', ratio: 2.8 / 3.5 });
    expect(charts.rooflines.map((r) => r.label)).toEqual(['wgrad webgpu H200', 'pytorch NVIDIA H200']);
    // The roofline: a ceiling line per dtype that tops out at the measured peak, and the workloads as points.
    const roof = charts.rooflines[1];
    expect(Math.max(...roof.ceiling.filter((p) => p.dtype === 'bf16').map((p) => p.tflops))).toBeCloseTo((2 * 4096 ** 3) / 0.2 / 1e9, 6);
    expect(roof.points.find((p) => p.workload === 'attention_fwd_b8h9t512d64')!.intensity).toBeCloseTo((4 * 512 * 512 * 64 / 2) / (16 * 512 * 64), 9);
    // Drawn as inline SVG: one chart element each, a bar (with its value) per ratio, a point per workload.
    for (const id of ['chart-ratio', 'chart-roofline-0', 'chart-roofline-1']) expect(html).toContain(`<div class="chart" id="${id}"><svg`);
    expect(html).toContain(`<title>matmul_4096_nn [f32], wgrad webgpu H200: ${(2.8 / 3.5).toFixed(3)}×</title>`);
    const svg = /<div class="chart" id="chart-roofline-1">(.*?)<\/div>/s.exec(html)![1];
    expect((svg.match(/<circle /g) ?? []).length).toBe(roof.points.length);
    // Nothing is fetched and no script runs: the page reads the same offline.
    expect(html).not.toMatch(/<script(?![^>]*application\/json)|src=|href=|cdn\./);
    expect(html.length).toBeLessThan(200_000);
    expect(html).toContain('<td>NVIDIA H200 (cuda)</td>');
    expect(chartData(compareFiles([wgrad])).ratio).toBeNull(); // one file: nothing to compare against
  });

  it('refuses an ambiguous or unknown baseline', () => {
    expect(() => compareFiles([wgrad, torch], 'H200')).toThrow(/baseline "H200" matches 2 files/);
    expect(() => compareFiles([wgrad, torch], 5)).toThrow(/baseline index 5 is out of range \(0\.\.1\)/);
    expect(() => compareFiles([])).toThrow(/no result files/);
  });

  it('gives the peak-memory ratio of training rows (wgrad peakLiveBytes over PyTorch peakAllocatedBytes) and prints it', () => {
    const c = compareFiles([wgrad, torch], 'pytorch');
    const sft = line(c, 'lora_sft_step_smollm2-135m_b8t512', 'f32');
    expect(sft.cells[0]!.memoryRatio).toBeCloseTo(53.6e9 / 10.6e9, 12);
    expect(sft.cells[1]!.memoryRatio).toBe(1);
    // Rows without a recorded peak get none.
    expect(line(c, 'matmul_4096_nn', 'f32').cells[0]!.memoryRatio).toBeUndefined();
    const text = renderCompareTable(c);
    expect(text).toContain('peak device memory');
    expect(text).toMatch(/lora_sft_step_smollm2-135m_b8t512 \[f32\]\s+53\.60\s+5\.06×\s+10\.60\s+1\.00×/);
  });
});
