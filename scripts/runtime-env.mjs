// Environment defaults for running wgrad under Node on a machine without a GPU: Dawn needs a
// Vulkan driver it accepts (Debian's chromium ships SwiftShader; Dawn refuses Debian 12's
// lavapipe), and Dawn/Chromium complain when XDG_RUNTIME_DIR is unset (containers, CI).
// Used by `npm start` (scripts/with-env.mjs) and by the tests (tests/setup/env.ts).
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function applyRuntimeEnv(env = process.env) {
  // Respect an explicit Vulkan driver choice (a real GPU, as .gpu/remote-env.sh sets, or lavapipe).
  if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    // Tells runners this was our default, not the user's choice (tests/deno picks lavapipe then).
    env.WGRAD_VK_ICD_DEFAULTED = '1';
  }
  if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'wgrad-xdg-'));
}

/**
 * Mesa's lavapipe ICD (package mesa-vulkan-drivers), if installed. Deno's wgpu accepts it where
 * Dawn does not, and it has shader-f16, which SwiftShader lacks.
 */
export function lavapipeIcd(dir = '/usr/share/vulkan/icd.d') {
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => /^lvp_icd\..*\.json$/.test(n));
  return f ? join(dir, f) : undefined;
}
