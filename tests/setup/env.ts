// Environment every Node-side test process needs before Dawn (or a spawned Deno/Chromium) starts.
// Called from vitest.config.ts (so forks and spawned runtimes inherit it) and again in each fork's
// setup file (so a fork started some other way still gets it). Node only.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's chromium package ships this SwiftShader Vulkan ICD; Dawn refuses Debian 12's lavapipe. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function applyTestEnv(env: NodeJS.ProcessEnv = process.env): void {
  // Respect an explicit Vulkan driver choice (a real GPU, or lavapipe on a newer Mesa).
  if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    // Tells runners this was our default, not the user's choice (tests/deno picks lavapipe then).
    env.WGRAD_VK_ICD_DEFAULTED = '1';
  }
  // Dawn (and Chromium) complain loudly when XDG_RUNTIME_DIR is unset, as it is in containers and CI.
  if (!env.XDG_RUNTIME_DIR) {
    env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'wgrad-xdg-'));
  }
}

/**
 * Mesa's lavapipe ICD (package mesa-vulkan-drivers), if installed. Deno's wgpu accepts it where
 * Dawn does not, and it has shader-f16, which SwiftShader lacks: running Deno on it puts a second
 * Vulkan driver and the f16 paths under test.
 */
export function lavapipeIcd(dir = '/usr/share/vulkan/icd.d'): string | undefined {
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => /^lvp_icd\..*\.json$/.test(n));
  return f ? join(dir, f) : undefined;
}
