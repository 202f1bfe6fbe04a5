// The backend the worker trains on, and what the page shows about it: WebGPU where the browser
// has a hardware adapter; else the cpu backend with the reason. As the engine's `auto` does, a
// software adapter (SwiftShader, lavapipe, WARP) is named and passed over for the cpu backend,
// which is faster than it; ?backend=webgpu uses it anyway.
import { deviceFingerprint } from '../../../bench/fingerprint.ts';
import { createBackend, isSoftwareAdapter, type Backend } from '../../../engine/index.ts';
import type { DeviceInfo } from '../protocol.ts';

export async function startBackend(choice: 'auto' | 'webgpu' | 'cpu'): Promise<{ backend: Backend; info: DeviceInfo }> {
  let fallbackReason: string | undefined;
  let skippedAdapter: string | undefined;
  let webgpu: DeviceInfo['webgpu'];
  let backend: Backend | null = null;
  if (choice !== 'cpu') {
    if (!('gpu' in navigator) || !navigator.gpu) fallbackReason = 'this browser has no WebGPU (navigator.gpu is missing)';
    else {
      try {
        backend = await createBackend({ backend: 'webgpu' });
      } catch (e) {
        fallbackReason = `WebGPU did not start: ${(e as Error).message}`;
      }
    }
    if (!backend && choice === 'webgpu') throw new Error(fallbackReason);
    const info = backend && 'adapterInfo' in backend ? (backend as Backend & { adapterInfo: DeviceInfo['adapter'] & object }).adapterInfo : undefined;
    if (backend) {
      const fp = await deviceFingerprint(backend);
      webgpu = { adapter: fp.adapter ?? undefined, features: fp.features, limits: fp.limits };
    }
    if (backend && choice === 'auto' && info && isSoftwareAdapter(info)) {
      const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
      fallbackReason = `the only WebGPU adapter here is a software renderer (${name}), slower than the cpu backend; open the page with ?backend=webgpu to train on it anyway`;
      skippedAdapter = name;
      backend.destroy();
      backend = null;
    }
  }
  backend ??= await createBackend({ backend: 'cpu' });
  const fp = await deviceFingerprint(backend);
  const adapter = fp.adapter ?? undefined;
  return {
    backend,
    info: {
      backend: backend.name === 'webgpu' ? 'webgpu' : 'cpu',
      description: backend.description,
      software: adapter ? isSoftwareAdapter(adapter) : false,
      fallbackReason,
      skippedAdapter,
      webgpu,
      adapter,
      features: fp.features,
      limits: fp.limits,
    },
  };
}
