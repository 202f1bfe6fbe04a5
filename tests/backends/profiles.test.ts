// Device profiles chosen from recorded adapter descriptions (fixtures/adapter-infos.json), the
// override by name, and the profile the WebGPU backend here (SwiftShader) really gets. Profiles
// carry the tiles the kernels try: the tile each profile picks for typical shapes under its family's
// limits is asserted, and the same matmul and attention (forward and backward) computed with the
// nvidia profile's tiles forced onto this device equal the software profile's and a float64 cpu run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createCpuBackend } from '../../backends/cpu/index.ts';
import { chooseProfile, missingDawnFlags, PROFILES, type ProfileName } from '../../backends/webgpu/profiles.ts';
import type { AdapterInfo } from '../../backends/webgpu/device.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../../backends/webgpu/index.ts';
import { BACKWARD_TILES, attentionBackwardBytes } from '../../kernels/attention-backward.ts';
import { chooseTiles } from '../../kernels/attention-common.ts';
import { FORWARD_TILES, attentionForwardBytes } from '../../kernels/attention-forward.ts';
import { chooseMatmulConfig, DEFAULT_MATMUL_TILES } from '../../kernels/matmul.ts';
import { valueAndGrad } from '../../engine/autodiff.ts';
import * as w from '../../engine/ops/index.ts';
import type { Tensor } from '../../engine/tensor.ts';
import { allClose } from '../core/harness.ts';
import { rng, uniform } from './compare.ts';
import { testBackends } from '../setup/backends.ts';

const infos = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'adapter-infos.json'), 'utf8')) as Record<string, AdapterInfo>;

describe('device profiles', () => {
  it.each([
    ['nvidia-h200-dawn', 'nvidia', 'vendor "nvidia"'],
    ['swiftshader-dawn', 'software', 'software rasteriser "swiftshader"'],
    ['lavapipe-deno', 'software', 'software rasteriser "llvmpipe"'],
    ['apple-m2-chrome-metal', 'apple', 'vendor "apple"'],
    ['amd-rdna3-chrome-vulkan', 'amd', 'vendor "amd"'],
    ['intel-xe-chrome-d3d12', 'intel', 'vendor "intel"'],
    ['nvidia-deno-pci-id', 'nvidia', 'PCI vendor id 4318'],
    ['unknown-mobile', 'generic', 'no known vendor'],
    ['firefox-masked', 'generic', 'no known vendor'],
  ])('%s → %s', (fixture, profile, why) => {
    const r = chooseProfile(infos[fixture]);
    expect(r.profile.name).toBe(profile);
    expect(r.why).toContain(why);
  });

  it('profiles carry the documented family traits', () => {
    expect(PROFILES.apple).toMatchObject({ api: 'Metal', subgroupSize: 32, workgroupStorageBytes: 32768, unifiedMemory: true, fastDtype: 'f16' });
    expect(PROFILES.nvidia).toMatchObject({ api: 'Vulkan', subgroupSize: 32, workgroupStorageBytes: 49152 });
    expect(PROFILES.nvidia.features).toContain('chromium-experimental-subgroup-matrix');
    expect(missingDawnFlags(PROFILES.nvidia, [])).toEqual(['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia']);
    expect(missingDawnFlags(PROFILES.nvidia, ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'])).toEqual([]);
  });

  it('an override by name wins; a wrong name is refused with the list', () => {
    expect(chooseProfile(infos['swiftshader-dawn'], 'nvidia').profile.name).toBe('nvidia');
    expect(() => chooseProfile(infos['swiftshader-dawn'], 'cuda')).toThrow('unknown device profile "cuda" (expected apple, nvidia, amd, intel, software, generic)');
  });

  for (const b of testBackends().filter((t) => t.name === 'webgpu')) {
    it('the WebGPU backend here reports the profile its adapter implies', async () => {
      const gpu = (await b.get()) as unknown as { profile: { name: string; why: string }; adapterInfo: AdapterInfo };
      expect(gpu.profile.name).toBe(chooseProfile(gpu.adapterInfo).profile.name);
      expect(gpu.profile.why.length).toBeGreaterThan(0);
    });
  }

  // Workgroup memory and threads per workgroup as each family reports them (nvidia: the H200's
  // Vulkan limits; software: SwiftShader's), and the tiles its profile then picks.
  const LIMITS: Record<ProfileName, { bytes: number; threads: number }> = {
    nvidia: { bytes: 49152, threads: 1024 }, apple: { bytes: 32768, threads: 1024 }, amd: { bytes: 65536, threads: 1024 },
    intel: { bytes: 65536, threads: 1024 }, software: { bytes: 32768, threads: 256 }, generic: { bytes: 16384, threads: 256 },
  };
  const matmulTile = (name: ProfileName, m: number, n: number, k: number, batch = 1) => {
    const c = chooseMatmulConfig({ transA: false, transB: false, m, n, k, batch, maxWorkgroupStorage: LIMITS[name].bytes, tiles: PROFILES[name].tiles.matmul });
    return `${c.tileM}x${c.tileN}x${c.BK}`;
  };
  const attentionTile = (name: ProfileName, kernel: 'forward' | 'backward', D: number, T: number) => {
    const bytes = kernel === 'forward' ? (t: Parameters<typeof attentionForwardBytes>[1]) => attentionForwardBytes(D, t) : (t: Parameters<typeof attentionBackwardBytes>[1]) => attentionBackwardBytes(D, t);
    const t = chooseTiles(PROFILES[name].tiles.attention[kernel], bytes, LIMITS[name].bytes, LIMITS[name].threads, T, kernel);
    return `${t.rows}x${t.cols} RQ${t.RQ} TJ${t.TJ}`;
  };

  it.each([
    // fixture, profile, matmul 4096² (K 512), 1024² (K 64), 8×2048 (decode), attention forward / backward at D 64, T 512, forward at T 1
    ['nvidia-h200-dawn', 'nvidia', '128x128x16', '64x64x16', '16x64x8', '64x32 RQ4 TJ16', '32x32 RQ2 TJ16', '4x32 RQ1 TJ16'],
    ['nvidia-deno-pci-id', 'nvidia', '128x128x16', '64x64x16', '16x64x8', '64x32 RQ4 TJ16', '32x32 RQ2 TJ16', '4x32 RQ1 TJ16'],
    ['apple-m2-chrome-metal', 'apple', '128x128x16', '64x64x16', '16x64x8', '32x32 RQ4 TJ16', '32x16 RQ4 TJ8', '4x32 RQ1 TJ16'],
    ['swiftshader-dawn', 'software', '32x32x8', '32x32x8', '16x64x8', '8x16 RQ2 TJ4', '8x16 RQ2 TJ4', '4x16 RQ1 TJ8'],
    ['lavapipe-deno', 'software', '32x32x8', '32x32x8', '16x64x8', '8x16 RQ2 TJ4', '8x16 RQ2 TJ4', '4x16 RQ1 TJ8'],
    ['unknown-mobile', 'generic', '128x128x16', '64x64x16', '16x64x8', '16x32 RQ4 TJ8', '8x16 RQ2 TJ4', '4x32 RQ1 TJ16'],
  ])('%s (%s) picks matmul %s / %s / %s, attention %s / %s / %s', (fixture, profile, big, mid, skinny, fwd, bwd, decode) => {
    const p = chooseProfile(infos[fixture]).profile.name;
    expect(p).toBe(profile);
    expect([matmulTile(p, 4096, 4096, 512), matmulTile(p, 1024, 1024, 64), matmulTile(p, 8, 2048, 512)]).toEqual([big, mid, skinny]);
    expect([attentionTile(p, 'forward', 64, 512), attentionTile(p, 'backward', 64, 512), attentionTile(p, 'forward', 64, 1)]).toEqual([fwd, bwd, decode]);
  });

  it("nvidia keeps the kernels' measured lists; the software profile lists only small tiles", () => {
    expect(PROFILES.nvidia.tiles.matmul).toEqual(DEFAULT_MATMUL_TILES);
    expect(PROFILES.nvidia.tiles.attention.forward).toBe(FORWARD_TILES);
    expect(PROFILES.nvidia.tiles.attention.backward).toBe(BACKWARD_TILES);
    expect(PROFILES.software.tiles.matmul).toEqual(['skinny', 'small']);
    for (const t of [...PROFILES.software.tiles.attention.forward, ...PROFILES.software.tiles.attention.backward]) expect(t.rows * t.cols).toBeLessThanOrEqual(128);
    expect(() => chooseMatmulConfig({ transA: false, transB: false, m: 8, n: 8, k: 8, tiles: ['huge' as never] })).toThrow('matmul: unknown tile preset(s) huge');
  });
});

describe.skipIf(!testBackends().some((b) => b.name === 'webgpu'))('profile tiles on this WebGPU device', () => {
  let soft: WebGPUBackend | null = null, forced: WebGPUBackend | null = null;
  afterAll(() => { soft?.destroy(); forced?.destroy(); });

  it('the backend reads its profile\'s tiles; the nvidia tiles forced here (--device-profile nvidia) give the same matmul and attention, both ways', async () => {
    soft = await createWebGPUBackend();
    forced = await createWebGPUBackend({ profile: 'nvidia' });
    expect(soft.tiles).toBe(PROFILES[soft.profile.name as ProfileName].tiles);
    expect(forced.profile.name).toBe('nvidia');
    expect(forced.tiles).toBe(PROFILES.nvidia.tiles);
    const f64 = createCpuBackend({ precision: 'f64' });
    // The kernels each backend really dispatches, by key (they name their tiles).
    const keys = new Map<WebGPUBackend, string[]>();
    for (const be of [soft, forced]) {
      const seen: string[] = [];
      keys.set(be, seen);
      const dispatch = be.dispatch.bind(be), runGrid = be.runGrid.bind(be);
      vi.spyOn(be, 'dispatch').mockImplementation((op, kernel, ...rest) => { seen.push(kernel.key); return dispatch(op, kernel, ...rest); });
      vi.spyOn(be, 'runGrid').mockImplementation((op, kernel, ...rest) => { seen.push(kernel.key); return runGrid(op, kernel, ...rest); });
    }
    const rand = rng(11);
    // matmul [64, 65, 12] × 65 batches... a batch of 64 [65, 12]·[12, 64]: 128 workgroups of 64×64, so
    // nvidia's list picks the 64×64 preset where the software list keeps 32×32.
    const B = 64, M = 65, K = 12, N = 64;
    const a = uniform(rand, B * M * K, -1, 1).map(Math.fround), b = uniform(rand, B * K * N, -1, 1).map(Math.fround);
    const mm = async (be: typeof f64) => Array.from(await w.matmul(w.tensor(Float64Array.from(a), [B, M, K], { backend: be }), w.tensor(Float64Array.from(b), [B, K, N], { backend: be })).data());
    const want = await mm(f64);
    const tol = { atol: 2e-5, rtol: 2e-5 };
    allClose(await mm(soft), want, { ...tol, label: `matmul, ${soft.profile.name} tiles` });
    allClose(await mm(forced), want, { ...tol, label: 'matmul, nvidia tiles' });
    // Attention at D 8, T = S 37, two heads: nvidia starts from 64-row forward and 32-row backward tiles, software from 8×16.
    const [H, T, D] = [2, 37, 8];
    const q = uniform(rand, H * T * D, -1, 1).map(Math.fround), k = uniform(rand, H * T * D, -1, 1).map(Math.fround), v = uniform(rand, H * T * D, -1, 1).map(Math.fround);
    const g = uniform(rand, H * T * D, -1, 1).map(Math.fround);
    const att = async (be: typeof f64) => {
      const t = (x: number[]) => w.tensor(Float64Array.from(x), [1, H, T, D], { backend: be });
      const G = t(g);
      const { value, grads } = valueAndGrad((qq: Tensor, kk: Tensor, vv: Tensor) => w.sum(w.mul(w.scaledDotProductAttention(qq, kk, vv), G)))(t(q), t(k), t(v));
      const out = w.scaledDotProductAttention(t(q), t(k), t(v));
      return [await out.data(), ...(await Promise.all((grads as Tensor[]).map((x) => x.data()))), await value.data()].map((x) => Array.from(x));
    };
    const wantA = await att(f64);
    for (const [name, be] of [['software', soft], ['nvidia', forced]] as const) {
      const got = await att(be);
      ['out', 'dq', 'dk', 'dv', 'value'].forEach((label, i) => allClose(got[i], wantA[i], { atol: 3e-5, rtol: 3e-5, label: `attention ${label}, ${name} tiles` }));
    }
    const used = (be: WebGPUBackend, re: RegExp) => [...new Set(keys.get(be)!.filter((k) => re.test(k)).map((k) => re.exec(k)![1]))];
    expect(used(soft, /_(\d+x\d+x\d+)_\d+x\d+_/)).toEqual(['32x32x8']);
    expect(used(forced, /_(\d+x\d+x\d+)_\d+x\d+_/)).toEqual(['64x64x16']);
    expect(used(soft, /^attention-forward:D8:(q\d+:k\d+)/)).toEqual(['q8:k16']);
    expect(used(forced, /^attention-forward:D8:(q\d+:k\d+)/)).toEqual(['q64:k32']);
    expect(used(soft, /^attention-dq:D8:(r\d+:c\d+)/)).toEqual(['r8:c16']);
    expect(used(forced, /^attention-dq:D8:(r\d+:c\d+)/)).toEqual(['r32:c32']);
    vi.restoreAllMocks();
  }, 120_000);
});
