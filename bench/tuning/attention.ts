// Attention tile sweep: the fused causal attention forward and forward + backward (bench/workloads/
// attention.ts, SmolLM2-135M's attention at batch 8 × 512: B 8, H 9, T 512, D 64) with every tile
// configuration of kernels/attention-{forward,backward}.ts that fits the device, GPU-timestamped as
// `wgrad bench` times them. Each variant's outputs are checked against the automatic choice's.
//   here:  npx esbuild bench/tuning/attention.ts --bundle --platform=node --format=esm \
//            --outfile=dist/attention-tuning.js --external:webgpu
//   there: source .gpu/remote-env.sh; node dist/attention-tuning.js [quick]
import type { AttentionTiles } from '../../kernels/attention-common.ts';
import { threads } from '../../kernels/attention-common.ts';
import { attentionForwardBytes } from '../../kernels/attention-forward.ts';
import { attentionBackwardBytes } from '../../kernels/attention-backward.ts';
import { attentionTileOverride } from '../../backends/routines/attention.ts';
import { createWebGPUBackend } from '../../backends/webgpu/index.ts';
import { FULL_TIMING, measure, QUICK_TIMING } from '../timing.ts';
import { attentionWorkload } from '../workloads/attention.ts';
import { randomValues, relativeError } from '../workload.ts';
import { scaledDotProductAttention, tensor } from '../../engine/ops/index.ts';
import { tidy } from '../../engine/memory.ts';

const quick = process.argv[2] === 'quick';
const [B, H, T, D] = quick ? [1, 2, 40, 8] : [8, 9, 512, 64]; // quick: checks that every variant runs (software GPU)
const tile = (rows: number, cols: number, RQ: number, TJ: number): AttentionTiles => ({ rows, cols, RQ, TJ });
const FORWARD = [tile(64, 32, 4, 8), tile(32, 32, 4, 8), tile(32, 32, 4, 16), tile(64, 32, 4, 16), tile(32, 64, 4, 16),
  tile(16, 32, 4, 8), tile(32, 32, 2, 8), tile(64, 32, 8, 8), tile(64, 64, 4, 16)];
const BACKWARD = [tile(32, 32, 4, 16), tile(32, 32, 4, 8), tile(32, 16, 4, 8), tile(16, 32, 4, 8), tile(32, 32, 2, 16), tile(64, 32, 4, 16)];

const b = await createWebGPUBackend({ timestampQuery: true });
const limit = b.device.limits.maxComputeWorkgroupStorageSize, maxThreads = b.device.limits.maxComputeInvocationsPerWorkgroup;
console.log(`${b.description}; B ${B} H ${H} T ${T} D ${D}; workgroup memory ${limit} B, ${maxThreads} threads`);
const plan = quick ? QUICK_TIMING : FULL_TIMING;

async function time(backward: boolean, label: string, ref: ArrayLike<number>[] | null): Promise<ArrayLike<number>[]> {
  const w = attentionWorkload(B, H, T, D, backward), inst = await w.build(b);
  try {
    const out = await inst.outputs();
    const m = await measure(b, inst.step, plan);
    const ms = m.stats.medianMs;
    const err = ref ? relativeError(out, ref).toExponential(1) : 'reference';
    console.log(`${w.op.padEnd(17)} ${label.padEnd(34)} ${ms.toFixed(3).padStart(8)} ms ${(w.flops / ms / 1e9).toFixed(2).padStart(6)} TFLOP/s  (${m.method}, err ${err})`);
    return out;
  } finally {
    inst.dispose();
  }
}

const clear = () => { for (const k of ['forward', 'dkdv', 'dq'] as const) delete attentionTileOverride[k]; };
const name = (t: AttentionTiles, bytes: number) => `${t.rows}×${t.cols} RQ ${t.RQ} TJ ${t.TJ} (${threads(t)} thr, ${(bytes / 1024).toFixed(1)} KiB)`;
for (const backward of [false, true]) {
  clear();
  const ref = await time(backward, 'automatic choice', null);
  for (const t of backward ? BACKWARD : FORWARD) {
    const bytes = backward ? attentionBackwardBytes(D, t) : attentionForwardBytes(D, t);
    if (bytes > limit || threads(t) > maxThreads) { console.log(`skip ${name(t, bytes)}: over the device's limits`); continue; }
    clear();
    Object.assign(attentionTileOverride, backward ? { dkdv: t, dq: t } : { forward: t });
    await time(backward, name(t, bytes), ref);
  }
}
// The training step's own shape: GQA, SmolLM2-135M's 9 query heads over 3 kv heads. dK/dV runs one
// workgroup per kv head and key block (walking the 3 query heads), so its grid is 3× smaller.
for (const backward of [false, true]) {
  clear();
  const KV = quick ? 1 : 3;
  const mk = (heads: number, seed: number) => {
    const t = tensor(randomValues(B * heads * T * D, seed), [B, heads, T, D], { backend: b }).keep();
    t.requiresGrad = backward;
    return t;
  };
  const q = mk(H, 1), k = mk(KV, 2), v = mk(KV, 3), dO = mk(H, 4);
  const step = () => tidy(() => {
    const o = scaledDotProductAttention(q, k, v);
    if (backward) o.backward(dO);
    for (const x of [q, k, v]) { x.grad?.dispose(); x.grad = null; }
  });
  const m = await measure(b, step, plan);
  const flops = (backward ? 3.5 : 1) * 2 * B * H * T * T * D;
  console.log(`${backward ? 'GQA fwd+bwd' : 'GQA fwd'} H ${H} KV ${KV}, automatic choice: ${m.stats.medianMs.toFixed(3)} ms ${(flops / m.stats.medianMs / 1e9).toFixed(2)} TFLOP/s (${m.method})`);
  for (const x of [q, k, v, dO]) x.dispose();
}
b.destroy();
