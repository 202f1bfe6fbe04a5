// The layering check of ARCHITECTURE.md (scripts/check-layers.mjs): the tree obeys it, and a
// deliberately wrong import in a scratch tree is caught with its file, line and rule.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module without types
import { checkLayers, formatViolation } from '../scripts/check-layers.mjs';

interface Violation { file: string; line: number; from: string; to: string; spec: string }

describe('layering', () => {
  it('every import in the repository runs down (cli/web/bench → llm → engine → backends → kernels)', () => {
    const violations = checkLayers(path.resolve(__dirname, '..')) as Violation[];
    expect(violations.map(formatViolation)).toEqual([]);
  });

  it('an import that runs back up a layer is reported', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-layers-'));
    const write = (f: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), text);
    };
    write('llm/models/model.ts', "import { matmul } from '../../engine/ops/index.ts';\n");
    write('engine/ops/index.ts', "export const x = 1;\n\nimport { LlamaForCausalLM } from '../../llm/models/model.ts';\n");
    write('kernels/matmul.ts', "const b = await import('../backends/webgpu/backend.ts');\n");
    write('backends/backend.ts', "export type { Tensor } from '../engine/tensor.ts';\n");
    try {
      const v = checkLayers(root) as Violation[];
      expect(v.map((x) => `${x.file}:${x.line} ${x.from}->${x.to}`).sort()).toEqual([
        'backends/backend.ts:1 backends->engine',
        'engine/ops/index.ts:3 engine->llm',
        'kernels/matmul.ts:1 kernels->backends',
      ]);
      expect(formatViolation(v.find((x) => x.from === 'engine')!)).toBe(
        "engine/ops/index.ts:3: engine/ imports llm/ ('../../llm/models/model.ts'); engine/ may import backends",
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
