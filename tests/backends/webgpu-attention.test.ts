// The fused attention primitives (attentionForward/attentionBackward) on the WebGPU backend against
// the cpu backend: GQA, odd T/S/D over several tiles, decode steps (past > 0, T = 1), segment ids
// (right/left padding, packing) and query rows that see no key.
// Needs a WebGPU adapter (SwiftShader in CI); skips with the reason if none.
import * as routines from '../../backends/routines/index.ts';
import { describe, expect, it } from 'vitest';
import type { Backend, Storage } from '../../backends/backend.ts';
import type { AttentionParams } from '../../backends/routines/index.ts';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { webgpuSuite } from './gpu-suite.ts';
import { mismatch, rng, type Tol, uniform } from './compare.ts';

const { SEED, cpu, gpuIt } = webgpuSuite();
const TOL: Tol = { atol: 3e-5, rtol: 2e-4 };

interface Case {
  name: string;
  p: AttentionParams;
  /** Segment ids [B][T] and [B][S], or none. */
  seg?: [number[][], number[][]];
}

type Result = Record<'out' | 'lse' | 'dq' | 'dk' | 'dv', Float32Array | Float64Array | Int32Array>;

async function run(b: Backend, c: Case, q: number[], k: number[], v: number[], dOut: number[]): Promise<Result> {
  const up = (x: number[]) => b.upload(x, 'f32');
  const [qs, ks, vs, ds] = [up(q), up(k), up(v), up(dOut)];
  const segQ = c.seg ? b.upload(c.seg[0].flat(), 'i32') : null, segK = c.seg ? b.upload(c.seg[1].flat(), 'i32') : null;
  const { out, lse } = b.run(routines.attentionForward, qs, ks, vs, segQ, segK, c.p);
  const { dq, dk, dv } = b.run(routines.attentionBackward, qs, ks, vs, out, lse, ds, segQ, segK, c.p);
  const all: Record<string, Storage> = { out, lse, dq, dk, dv };
  const res = {} as Result;
  for (const [name, s] of Object.entries(all)) res[name as keyof Result] = await b.read(s);
  for (const s of [qs, ks, vs, ds, segQ, segK, ...Object.values(all)]) if (s) b.free(s);
  return res;
}

async function agree(g: Backend, c: Case, rand: () => number): Promise<Result> {
  const { B, H, KV, T, S, D } = c.p;
  const q = uniform(rand, B * H * T * D, -2, 2), k = uniform(rand, B * KV * S * D, -2, 2);
  const v = uniform(rand, B * KV * S * D), dOut = uniform(rand, B * H * T * D);
  const want = await run(cpu, c, q, k, v, dOut), got = await run(g, c, q, k, v, dOut);
  for (const f of Object.keys(want) as (keyof Result)[]) {
    expect(mismatch(got[f], want[f], TOL), `${c.name}: ${f} (seed ${SEED})`).toBeNull();
  }
  return got;
}

const P = (B: number, H: number, KV: number, T: number, S: number, D: number, past = S - T): AttentionParams =>
  ({ B, H, KV, T, S, D, past, scale: 1 / Math.sqrt(D) });

describe('webgpu fused attention vs cpu', () => {
  const rand = rng(SEED);

  // One test per case: each new head dim or tile shape compiles its own pipelines, which costs
  // seconds on SwiftShader, so cases share D = 8 where the head dim is not the point and stay short
  // (T crosses a tile edge once), keeping every test far below its timeout on a busy machine.
  const causal: Case[] = [
    { name: 'one token', p: P(1, 1, 1, 1, 1, 8) },
    { name: 'MHA 2×5', p: P(2, 2, 2, 5, 5, 8) },
    { name: 'GQA H4 KV2, T=S=9, D=24', p: P(1, 4, 2, 9, 9, 24) },
    { name: 'MQA H3 KV1, T=S=17, D=5', p: P(1, 3, 1, 17, 17, 5) },
    { name: 'T=S=6, D=64', p: P(1, 2, 1, 6, 6, 64) },
    { name: 'T=S=5, D=128', p: P(1, 2, 2, 5, 5, 128) },
  ];
  // SwiftShader compiles the D = 64 and D = 128 kernels slowly whatever T is: 16 s and 35 s at a
  // load average of 17 on 2 cores, 43 s and 81 s at 20; they get a timeout three times that.
  for (const c of causal) gpuIt(`causal, odd T/S/D across tile edges: ${c.name}`, async (g) => { await agree(g, c, rand); }, c.p.D >= 64 ? 240_000 : undefined);

  const cache: Case[] = [
    { name: 'decode, past 11', p: P(2, 4, 2, 1, 12, 8) },
    { name: 'decode, past 40', p: P(1, 2, 1, 1, 41, 8) },
    { name: 'prefill chunk T 3 after 6', p: P(1, 2, 2, 3, 9, 8) },
    { name: 'past beyond S (every key visible)', p: { ...P(1, 2, 1, 5, 7, 8), past: 4 } },
  ];
  for (const c of cache) gpuIt(`a KV cache: ${c.name}`, async (g) => { await agree(g, c, rand); });

  const packedIds = [[1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 0, 0]];
  const segments: Case[] = [
    { name: 'right padding', p: P(2, 2, 1, 6, 6, 8), seg: [[[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]] },
    { name: 'packed, 19 tokens', p: P(1, 4, 2, 19, 19, 8), seg: [packedIds, packedIds] },
    // Left padding in generation: the cache holds [pad, pad, a, b, c]; the new token is segment 1.
    { name: 'left-padded decode', p: P(2, 2, 2, 1, 6, 8), seg: [[[1], [1]], [[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]] },
  ];
  for (const c of segments) gpuIt(`segments: ${c.name}`, async (g) => { await agree(g, c, rand); });

  gpuIt('segments: rows that see no key get out 0, lse −inf and no gradient', async (g) => {
    // Queries of segment 9 (rows 0, 2) and 7 see no key at all: out 0, lse −inf, no gradient.
    const empty: Case = { name: 'rows with no visible key', p: P(1, 2, 1, 4, 4, 8), seg: [[[9, 1, 9, 7]], [[1, 1, 2, 2]]] };
    const got = await agree(g, empty, rand);
    const D = 8, T = 4;
    for (const h of [0, 1]) {
      for (const t of [0, 2, 3]) {
        expect(got.lse[h * T + t]).toBe(-Infinity);
        expect(Array.from(got.out.subarray((h * T + t) * D, (h * T + t + 1) * D))).toEqual(new Array(D).fill(0));
        expect(Array.from(got.dq.subarray((h * T + t) * D, (h * T + t + 1) * D))).toEqual(new Array(D).fill(0));
      }
    }
    // Keys 2, 3 (segment 2) are seen by no query: their gradients are 0.
    expect(Array.from(got.dk.subarray(2 * D))).toEqual(new Array(2 * D).fill(0));
    expect(Array.from(got.dv.subarray(2 * D))).toEqual(new Array(2 * D).fill(0));
  });

  gpuIt('bad arguments name the op, the field and the expected shape', async (g) => {
    const x = g.upload(new Float32Array(16), 'f32'), s = g.upload(new Int32Array(2), 'i32');
    try {
      expect(() => g.run(routines.attentionForward, x, x, x, null, null, P(1, 3, 2, 2, 2, 4))).toThrow(/H = 3 must be a multiple of kv heads KV = 2/);
      expect(() => g.run(routines.attentionForward, x, x, x, null, null, P(1, 2, 1, 2, 2, 4))).toThrow(/attentionForward: k must be f32 \[1, 1, 2, 4\]/);
      expect(() => g.run(routines.attentionForward, x, x, x, s, null, P(1, 1, 1, 4, 4, 4))).toThrow(/segQ must be i32 \[1, 4\]/);
      expect(() => g.run(routines.attentionForward, x, x, x, null, s, P(1, 1, 1, 2, 2, 8))).toThrow(/both or neither/);
    } finally {
      g.free(x);
      g.free(s);
    }
  });
});

describe('cpu fused attention in float32 and float64 agree', () => {
  it('GQA with segments', async () => {
    const c: Case = { name: 'f32 vs f64', p: P(1, 4, 2, 9, 9, 6), seg: [[[1, 1, 1, 2, 2, 2, 2, 0, 0]], [[1, 1, 1, 2, 2, 2, 2, 0, 0]]] };
    const rand = rng(SEED);
    const q = uniform(rand, 4 * 9 * 6), k = uniform(rand, 2 * 9 * 6), v = uniform(rand, 2 * 9 * 6), d = uniform(rand, 4 * 9 * 6);
    const a = await run(cpu, c, q, k, v, d), b = await run(createCpuBackend({ precision: 'f64' }), c, q, k, v, d);
    for (const f of Object.keys(a) as (keyof Result)[]) expect(mismatch(a[f], b[f], { atol: 1e-5, rtol: 1e-5 }), f).toBeNull();
  });
});
