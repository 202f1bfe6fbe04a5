// Device profiles: how an adapter family maps onto the engine, as data. A profile is chosen from what
// the adapter says about itself (vendor, architecture, description; Dawn and browsers fill these
// differently, Deno may give a PCI vendor id as a number) and can be overridden by name
// (--device-profile, $WGRAD_DEVICE_PROFILE). device.ts requests the profile's features when the
// adapter has them; `wgrad doctor` prints the choice and why.
// A profile also carries the tiles the kernels try, in order (`tiles`): the backend hands them to
// the matmul and attention routines (GpuRoutineContext.tiles), which take the first that fits the
// device's own limits and suits the shape. The defaults are the lists measured on the H200; the
// software profile prefers small tiles, whose short unrolled shaders compile fast on SwiftShader.
import type { AttentionTiles } from '../../kernels/attention-common.ts';
import { BACKWARD_TILES } from '../../kernels/attention-backward.ts';
import { FORWARD_TILES } from '../../kernels/attention-forward.ts';
import { DEFAULT_MATMUL_TILES } from '../../kernels/matmul.ts';
import type { TilePreferences } from '../routine.ts';
import type { AdapterInfo } from './device.ts';

export type ProfileName = 'apple' | 'nvidia' | 'amd' | 'intel' | 'software' | 'generic';
export const PROFILE_NAMES: readonly ProfileName[] = ['apple', 'nvidia', 'amd', 'intel', 'software', 'generic'];

export interface DeviceProfile {
  name: ProfileName;
  /** The native API underneath WebGPU on this family (for doctor). */
  api: string;
  /** Features requested when the adapter has them (on top of device.ts's WANTED_FEATURES). */
  features: readonly string[];
  /** Dawn toggles (Node: WEBGPU_DAWN_FLAGS) without which Dawn hides features of this family. */
  dawnFlags: readonly string[];
  /** Threads per SIMD group / warp / wave the kernels may assume (null: varies, ask the adapter). */
  subgroupSize: number | null;
  /** Workgroup memory the tiles are sized for (bytes); the device's own limit still applies. */
  workgroupStorageBytes: number;
  /** Unified memory: uploads can map buffers at creation instead of going through a staging copy. */
  unifiedMemory: boolean;
  /** The dtype that runs fastest here, where the kernels have an f16 path. */
  fastDtype: 'f16' | 'f32';
  /** The tiles the kernels try, in order (see the header). */
  tiles: TilePreferences;
  /** Where its tile choices come from, in words (doctor). */
  tileSource: string;
}

/** The kernels' own lists, measured on the H200 (kernels/matmul.ts, attention-forward.ts, attention-backward.ts). */
const MEASURED: TilePreferences = { matmul: DEFAULT_MATMUL_TILES, attention: { forward: FORWARD_TILES, backward: BACKWARD_TILES } };
const tile = (rows: number, cols: number, RQ: number, TJ: number): AttentionTiles => ({ rows, cols, RQ, TJ });
/** Small tiles only: few unrolled iterations per shader, so software Vulkan compiles them fast. */
const SMALL_TILES: TilePreferences = {
  matmul: ['skinny', 'small'],
  attention: { forward: [tile(8, 16, 2, 4), tile(4, 16, 1, 8)], backward: [tile(8, 16, 2, 4), tile(4, 16, 1, 4)] },
};

const ALL_FEATURES = ['shader-f16', 'subgroups', 'chromium-experimental-subgroup-matrix'] as const;

export const PROFILES: Readonly<Record<ProfileName, DeviceProfile>> = {
  apple: {
    name: 'apple', api: 'Metal', features: ['shader-f16', 'subgroups'], dawnFlags: [],
    subgroupSize: 32, workgroupStorageBytes: 32768, unifiedMemory: true, fastDtype: 'f16',
    tiles: MEASURED, tileSource: 'the default presets within 32 KiB of threadgroup memory (not yet measured on Apple GPUs)',
  },
  nvidia: {
    name: 'nvidia', api: 'Vulkan', features: ALL_FEATURES,
    // Without these Dawn hides shader-f16 and the subgroup-matrix (tensor core) feature on NVIDIA (../shared/gpu/README.md).
    dawnFlags: ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia'],
    subgroupSize: 32, workgroupStorageBytes: 49152, unifiedMemory: false, fastDtype: 'f32',
    tiles: MEASURED, tileSource: 'matmul tiles measured on the H200, attention tiles on the H100 (kernels/matmul.ts, attention-*.ts, bench/NOTES.md)',
  },
  amd: {
    name: 'amd', api: 'Vulkan / D3D12', features: ['shader-f16', 'subgroups'], dawnFlags: [],
    subgroupSize: null, workgroupStorageBytes: 65536, unifiedMemory: false, fastDtype: 'f32',
    tiles: MEASURED, tileSource: 'the default presets (wave32 on RDNA, wave64 on GCN; not yet measured)',
  },
  intel: {
    name: 'intel', api: 'Vulkan / D3D12 / Metal', features: ['shader-f16', 'subgroups'], dawnFlags: [],
    subgroupSize: null, workgroupStorageBytes: 65536, unifiedMemory: true, fastDtype: 'f32',
    tiles: MEASURED, tileSource: 'the default presets (SIMD8 to SIMD32; not yet measured)',
  },
  software: {
    name: 'software', api: 'Vulkan on the CPU (SwiftShader, lavapipe)', features: ['shader-f16', 'subgroups'], dawnFlags: [],
    subgroupSize: null, workgroupStorageBytes: 32768, unifiedMemory: false, fastDtype: 'f32',
    tiles: SMALL_TILES, tileSource: 'small tiles only, whose short shaders compile fast on software Vulkan (under 1 GFLOP/s; auto prefers the cpu backend)',
  },
  generic: {
    name: 'generic', api: 'WebGPU', features: ['shader-f16', 'subgroups'], dawnFlags: [],
    subgroupSize: null, workgroupStorageBytes: 16384, unifiedMemory: false, fastDtype: 'f32',
    tiles: MEASURED, tileSource: 'the default presets within WebGPU default limits',
  },
};

// PCI vendor ids, as Deno and some browsers report `vendor` (decimal).
const PCI_VENDORS: Record<string, ProfileName> = { '4318': 'nvidia', '4098': 'amd', '32902': 'intel', '4203': 'apple' };

/** The profile for an adapter, and the evidence it was chosen on. */
export function chooseProfile(info: AdapterInfo, override?: string): { profile: DeviceProfile; why: string } {
  if (override !== undefined && override !== '') {
    if (!(PROFILE_NAMES as readonly string[]).includes(override)) throw new Error(`unknown device profile "${override}" (expected ${PROFILE_NAMES.join(', ')})`);
    return { profile: PROFILES[override as ProfileName], why: 'chosen by name (--device-profile / WGRAD_DEVICE_PROFILE)' };
  }
  const all = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const soft = /swiftshader|llvmpipe|lavapipe|warp|microsoft basic render/.exec(all);
  if (soft) return { profile: PROFILES.software, why: `software rasteriser "${soft[0]}" in the adapter info` };
  const vendor = info.vendor.toLowerCase();
  if (PCI_VENDORS[vendor]) return { profile: PROFILES[PCI_VENDORS[vendor]], why: `PCI vendor id ${vendor}` };
  for (const name of ['apple', 'nvidia', 'amd', 'intel'] as const) if (vendor === name) return { profile: PROFILES[name], why: `vendor "${info.vendor}"` };
  const hints: [RegExp, ProfileName][] = [[/\bapple\b|\bm[1-9]\b|metal/, 'apple'], [/nvidia|geforce|quadro|\brtx\b|tesla/, 'nvidia'], [/\bamd\b|radeon|\bati\b|rdna|gcn/, 'amd'], [/intel|\biris\b|\barc\b|\buhd\b/, 'intel']];
  for (const [re, name] of hints) {
    const m = re.exec(all);
    if (m) return { profile: PROFILES[name], why: `"${m[0]}" in the adapter's architecture/description` };
  }
  return { profile: PROFILES.generic, why: `no known vendor in the adapter info (${JSON.stringify(info)})` };
}

/** The Dawn flags a profile wants that `active` (the flags Dawn was created with) lacks. */
export function missingDawnFlags(profile: DeviceProfile, active: readonly string[]): string[] {
  return profile.dawnFlags.filter((f) => !active.includes(f));
}
