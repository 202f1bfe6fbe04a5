#!/usr/bin/env node
// The layering rule of ARCHITECTURE.md, checked: arrows run one way,
//   cli/ web/ bench/ → llm/ → engine/ → backends/ → kernels/
// A file may import from its own folder and from the folders listed for its layer below; anything
// else (an import that runs back up, or skips past the layer's interface) is reported with file,
// line and the rule it breaks. `node scripts/check-layers.mjs [root]` exits 1 on a violation;
// tests/layers.test.ts runs it in `npm test`.
import fs from 'node:fs';
import path from 'node:path';

/** Which top-level folders each layer may import (besides itself). */
export const ALLOWED = {
  kernels: [],
  backends: ['kernels'],
  engine: ['backends'],
  llm: ['engine'],
  cli: ['llm', 'engine', 'bench'], // `wgrad bench` runs the suites
  web: ['llm', 'engine', 'bench'], // the app's benchmark tab
  // Benchmarks measure every layer, kernels and backends included, so they may reach down past the
  // engine; nothing may import bench/ except the two front ends above.
  bench: ['llm', 'engine', 'backends', 'kernels'],
};

const SOURCE = /\.(ts|mts|mjs|js)$/;
// Static imports/exports (`from '...'`, `import '...'`) and dynamic `import('...')`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;

function* sourceFiles(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) yield full;
  }
}

/** Every import in root's layered folders that breaks the rule: [{ file, line, from, to, spec }]. */
export function checkLayers(root) {
  const violations = [];
  for (const layer of Object.keys(ALLOWED)) {
    const dir = path.join(root, layer);
    if (!fs.existsSync(dir)) continue;
    for (const file of sourceFiles(dir)) {
      const lines = fs.readFileSync(file, 'utf8').split('\n');
      lines.forEach((text, i) => {
        for (const m of text.matchAll(SPECIFIER)) {
          const target = path.relative(root, path.resolve(path.dirname(file), m[2]));
          const to = target.split(path.sep)[0];
          if (to === layer || ALLOWED[layer].includes(to)) continue;
          violations.push({ file: path.relative(root, file), line: i + 1, from: layer, to, spec: m[2] });
        }
      });
    }
  }
  return violations;
}

export function formatViolation(v) {
  const allowed = ALLOWED[v.from].length ? ALLOWED[v.from].join(', ') : 'nothing else of ours';
  return `${v.file}:${v.line}: ${v.from}/ imports ${v.to}/ ('${v.spec}'); ${v.from}/ may import ${allowed}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
  const violations = checkLayers(root);
  for (const v of violations) console.error(formatViolation(v));
  if (violations.length) {
    console.error(`${violations.length} import(s) break the layering (see ARCHITECTURE.md)`);
    process.exit(1);
  }
  console.log('layers: every import runs down (cli/web/bench → llm → engine → backends → kernels)');
}
