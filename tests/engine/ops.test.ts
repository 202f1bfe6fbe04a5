// Every op on every backend: forward vs the float64 cpu backend, backward vs float64 finite differences.
import { describe, it } from 'vitest';
import { checkOp } from '../core/ops/check.ts';
import { allSpecs } from '../core/ops/specs.ts';
import { testSeed } from '../core/ops/seed.ts';
import { testBackends } from '../setup/backends.ts';

for (const { name, get } of testBackends()) {
  describe(`ops on ${name}`, () => {
    for (const spec of allSpecs) {
      it(spec.name, async () => {
        await checkOp(spec, await get(), testSeed());
      });
    }
  });
}
