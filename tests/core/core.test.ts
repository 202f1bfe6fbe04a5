// Node runner for the portable core suite: every case in coreCases on cpu and on webgpu (Dawn;
// SwiftShader on CPU-only machines). Deno and Chromium run the same cases (tests/deno, tests/browser).
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Backend } from '../../backends/backend.ts';
import { createBackend } from '../../backends/select.ts';
import { coreCases } from './cases.ts';

for (const name of ['cpu', 'webgpu'] as const) {
  describe(`core on ${name}`, () => {
    let backend: Backend | undefined;
    beforeAll(async () => {
      backend = await createBackend({ backend: name });
    });
    // Destroy the device so dawn.node does not abort at process exit.
    afterAll(() => backend?.destroy());
    for (const c of coreCases) {
      it(c.name, async () => {
        if (!backend) throw new Error(`${name} backend failed to start (see beforeAll)`);
        await c.run({ backend });
      });
    }
  });
}
