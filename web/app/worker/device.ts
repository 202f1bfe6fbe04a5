// The backend the worker trains on, and what the page shows about it: WebGPU where the browser
// has an adapter (a software one named as such), else the cpu backend with the reason.
import { deviceFingerprint } from '../../../bench/fingerprint.ts';
import { createBackend, isSoftwareAdapter, type Backend } from '../../../engine/index.ts';
import type { DeviceInfo } from '../protocol.ts';

export async function startBackend(choice: 'auto' | 'webgpu' | 'cpu'): Promise<{ backend: Backend; info: DeviceInfo }> {
  let fallbackReason: string | undefined;
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
      adapter,
      features: fp.features,
      limits: fp.limits,
    },
  };
}
