// Node (Dawn via the npm `webgpu` package) can run a compute shader at all.
import { expect, it } from 'vitest';
import { create } from 'webgpu';
import { webgpuSmoke } from './smoke.ts';
import { installWebGPUGlobals } from '../setup/dawn.ts';

it('webgpu smoke (Node, Dawn)', async () => {
  installWebGPUGlobals();
  const info = await webgpuSmoke(create([]));
  expect(info.adapter).not.toBe('unknown');
});
