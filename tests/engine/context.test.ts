// The default backend: engine/context.ts imports no backend implementation; engine/index.ts
// registers the cpu backend as the default, and without that registration getBackend() says what to do.
import { describe, expect, it, vi } from 'vitest';

describe('default backend', () => {
  it('without engine/index.ts, getBackend() asks for init() or setBackend()', async () => {
    vi.resetModules();
    const ctx = await import('../../engine/context.ts');
    expect(() => ctx.getBackend()).toThrow('no backend: call init() or setBackend() (engine/index.ts), or pass { backend } when making a tensor');
  });

  it('engine/index.ts makes tensors on a float32 cpu backend until init() or setBackend()', async () => {
    vi.resetModules();
    const w = await import('../../engine/index.ts');
    const t = w.tensor([1, 2, 3]);
    expect(t.backend.description).toBe('cpu (float32)');
    expect(w.getBackend()).toBe(t.backend);
    expect(Array.from(await t.data())).toEqual([1, 2, 3]);
  });
});
