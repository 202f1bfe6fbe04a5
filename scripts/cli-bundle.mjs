// esbuild options for the `wgrad` CLI bundle (cli/main.ts → one ESM file for Node). Dependencies
// are bundled except the native Dawn binding (`webgpu`) and `deno`, which stay in node_modules.
// Used by build.mjs (dist/cli.js) and by the CLI tests (a private copy per test file).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

export function cliBuildOptions(outfile) {
  return {
    absWorkingDir: root,
    entryPoints: [join(root, 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    external: ['webgpu', 'deno'],
    // Bundled CommonJS dependencies call require(); ESM output has none, so provide one.
    banner: {
      js: [
        '#!/usr/bin/env node',
        "import { createRequire as __wgradCreateRequire } from 'node:module';",
        'const require = __wgradCreateRequire(import.meta.url);',
      ].join('\n'),
    },
    logLevel: 'warning',
  };
}

/**
 * The library for `import 'wgrad'` (engine/index.ts) and `import 'wgrad/llm'` (llm/index.ts): one
 * ESM build with a shared chunk, so both entry points use the same Tensor class and backend state.
 * Node built-ins and Dawn stay imports; everything else is bundled.
 */
export function libBuildOptions(outdir) {
  return {
    absWorkingDir: root,
    entryPoints: { engine: join(root, 'engine', 'index.ts'), llm: join(root, 'llm', 'index.ts') },
    outdir,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu', 'deno'],
    banner: { js: "import { createRequire as __wgradCreateRequire } from 'node:module';\nconst require = __wgradCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  };
}
