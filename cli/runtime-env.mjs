// Environment defaults for running wgrad under Node on a machine without a GPU: Dawn needs a
// Vulkan driver it accepts (Debian's chromium ships SwiftShader; Dawn refuses Debian 12's
// lavapipe), and Dawn/Chromium complain when XDG_RUNTIME_DIR is unset (containers, CI).
// Applied by the `wgrad` command itself (cli/main.ts), by `npm start` (scripts/with-env.mjs) and by
// the tests (tests/setup/env.ts).
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function applyRuntimeEnv(env = process.env) {
  // Respect an explicit Vulkan driver choice (a real GPU, as .gpu/remote-env.sh sets, or lavapipe),
  // and leave the system's drivers alone where there is a GPU device node to drive.
  if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD) && !hasGpuDevice()) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    // Tells runners this was our default, not the user's choice (tests/deno picks lavapipe then).
    env.WGRAD_VK_ICD_DEFAULTED = '1';
  }
  if (!env.XDG_RUNTIME_DIR) {
    // One private folder per user, not one per process: the CLI runs this on every command.
    const dir = join(tmpdir(), `wgrad-runtime-${process.getuid?.() ?? 'user'}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
}

/** A kernel GPU device node: DRM render nodes (AMD, Intel, ...) or NVIDIA's. */
export function hasGpuDevice() {
  if (existsSync('/dev/nvidia0')) return true;
  try {
    return readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
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
