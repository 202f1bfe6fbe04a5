// Backend selection: explicit option, then WGRAD_BACKEND, then auto; unknown names fail clearly.
import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_CHOICES, createBackend, isSoftwareAdapter, resolveBackendChoice } from '../../backends/select.ts';

describe('createBackend', () => {
  const saved = process.env.WGRAD_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.WGRAD_BACKEND;
    else process.env.WGRAD_BACKEND = saved;
  });

  it('an unknown backend name is an error listing the valid ones', async () => {
    await expect(createBackend({ backend: 'tpu' as never })).rejects.toThrow(
      "unknown backend 'tpu' (from the backend option); valid backends: cpu, webgpu, auto",
    );
    process.env.WGRAD_BACKEND = 'cuda-ish';
    await expect(createBackend()).rejects.toThrow("unknown backend 'cuda-ish' (from WGRAD_BACKEND); valid backends: cpu, webgpu, auto");
  });

  it('the explicit option wins over WGRAD_BACKEND, which wins over auto', async () => {
    process.env.WGRAD_BACKEND = 'webgpu';
    expect(resolveBackendChoice({ backend: 'cpu' })).toEqual({ choice: 'cpu', from: 'option' });
    expect(resolveBackendChoice()).toEqual({ choice: 'webgpu', from: 'WGRAD_BACKEND' });
    process.env.WGRAD_BACKEND = ' CPU ';
    expect(resolveBackendChoice().choice).toBe('cpu');
    delete process.env.WGRAD_BACKEND;
    expect(resolveBackendChoice()).toEqual({ choice: 'auto', from: 'default' });
    expect(BACKEND_CHOICES).toEqual(['cpu', 'webgpu', 'auto']);
  });

  it('cpu by name, with its precision', async () => {
    const b = await createBackend({ backend: 'cpu', precision: 'f64' });
    expect(b.name).toBe('cpu');
    expect(b.precision).toBe('f64');
    process.env.WGRAD_BACKEND = 'cpu';
    expect((await createBackend()).name).toBe('cpu');
  });

  it('auto gives a working backend (webgpu on a hardware adapter, cpu on software Vulkan), and cpu for f64', async () => {
    const named = await createBackend({ backend: 'webgpu' }).catch(() => null);
    const software = named ? isSoftwareAdapter((named as unknown as { adapterInfo: Parameters<typeof isSoftwareAdapter>[0] }).adapterInfo) : true;
    named?.destroy();
    const b = await createBackend({ backend: 'auto' });
    try {
      expect(b.name).toBe(software ? 'cpu' : 'webgpu');
      const x = b.upload([1, 2, 3], 'f32');
      expect(Array.from(await b.read(b.reduce('sum', x, 1, 3, 1)))).toEqual([6]);
    } finally {
      b.destroy();
    }
    expect((await createBackend({ backend: 'auto', precision: 'f64' })).name).toBe('cpu');
  });
});

describe('isSoftwareAdapter', () => {
  it('knows SwiftShader, lavapipe and WARP, and not hardware adapters', () => {
    const info = (vendor: string, architecture: string, description = '') => ({ vendor, architecture, device: '', description });
    expect(isSoftwareAdapter(info('google', 'swiftshader', 'SwiftShader driver 5.0.0'))).toBe(true);
    expect(isSoftwareAdapter(info('mesa', '', 'llvmpipe (LLVM 15.0.6, 256 bits)'))).toBe(true);
    expect(isSoftwareAdapter(info('nvidia', 'hopper', 'NVIDIA H200'))).toBe(false);
    expect(isSoftwareAdapter(info('apple', 'metal-3'))).toBe(false);
  });
});
