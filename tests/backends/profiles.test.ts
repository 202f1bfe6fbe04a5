// Device profiles chosen from recorded adapter descriptions (fixtures/adapter-infos.json), the
// override by name, and the profile the WebGPU backend here (SwiftShader) really gets.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseProfile, missingDawnFlags, PROFILES } from '../../backends/webgpu/profiles.ts';
import type { AdapterInfo } from '../../backends/webgpu/device.ts';
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
});
