// The kernel benchmark's result schema, shared by bench/kernels.ts and
// bench/tuning/torch_kernels.py (which writes the same JSON shape), and its table rendering.

export interface KernelBenchRow {
  name: string; // e.g. "matmul_f32_4096_nn", "add_f32_64M"
  op: 'matmul' | 'add' | 'sum' | 'copy';
  dtype: string; // 'f32', or on the PyTorch side also 'tf32' and 'bf16'
  shape: number[]; // matmul [batch, m, n, k]; elementwise/reduction [elements]
  transA?: boolean;
  transB?: boolean;
  ms: number; // median per call
  minMs: number;
  samples: number;
  gflops: number; // useful FLOPs per second / 1e9 (2·m·n·k for matmul, n for add/sum, 0 for copy)
  gbps: number; // the fewest bytes the op must move (inputs read once, output written once) / time / 1e9
  kernel?: string; // which kernel ran (wgrad: kernels/matmul.ts key; torch: the API call)
  maxRelErr?: number; // worst |got − ref| / Σ|terms| over the checked elements (float64 reference)
  timing?: string; // how this row was timed, when it differs per row
  note?: string;
}

export interface KernelBenchReport {
  suite: 'kernels';
  engine: string; // 'wgrad-webgpu' or 'torch'
  device: string; // adapter / CUDA device name
  timing: string; // 'timestamp-query' | 'wall-clock' | 'cuda-events'
  quick: boolean;
  date: string;
  toggles?: string[]; // Dawn toggles in force (wgrad only)
  rows: KernelBenchRow[];
}

// Three significant figures below 100 (software GPUs run at a fraction of a GFLOP/s), integers above.
const fmt = (x: number, d = 1) => (!Number.isFinite(x) ? '-' : Math.abs(x) >= 100 || x === 0 ? x.toFixed(d) : x.toPrecision(3));

export function renderTable(r: KernelBenchReport): string {
  const head = `${r.engine} on ${r.device} (timing: ${r.timing}${r.toggles?.length ? `, toggles: ${r.toggles.join(',')}` : ''})`;
  const lines = [head, `${'name'.padEnd(44)} ${'ms'.padStart(9)} ${'GFLOP/s'.padStart(10)} ${'GB/s'.padStart(8)}  kernel / check`];
  for (const x of r.rows) {
    const check = x.maxRelErr === undefined ? '' : ` relerr ${x.maxRelErr.toExponential(1)}`;
    lines.push(`${x.name.padEnd(44)} ${fmt(x.ms, 3).padStart(9)} ${fmt(x.gflops, 0).padStart(10)} ${fmt(x.gbps, 0).padStart(8)}  ${x.kernel ?? ''}${check}${x.note ? ` (${x.note})` : ''}`);
  }
  return lines.join('\n');
}

/**
 * Ratios against a reference report (e.g. PyTorch's JSON from bench/tuning/torch_kernels.py),
 * matching rows by name: time_ref / time_ours, so > 1 means wgrad is faster.
 */
export function renderComparison(ours: KernelBenchReport, ref: KernelBenchReport): string {
  const byName = new Map(ref.rows.map((r) => [r.name, r]));
  const lines = [`${ours.engine} vs ${ref.engine} (${ref.device})`,
    `${'name'.padEnd(28)} ${'ours ms'.padStart(9)} ${'ref ms'.padStart(9)} ${'speed'.padStart(7)}`];
  for (const r of ours.rows) {
    const x = byName.get(r.name);
    if (!x || !Number.isFinite(r.ms)) continue;
    lines.push(`${r.name.padEnd(28)} ${fmt(r.ms, 3).padStart(9)} ${fmt(x.ms, 3).padStart(9)} ${(x.ms / r.ms).toFixed(2).padStart(6)}×`);
  }
  return lines.join('\n');
}
