// The npm package: `npm pack` of the built CLI and library, installed into a folder outside the
// repository, runs `npx wgrad --version` and `wgrad generate`, and `import 'wgrad'` / 'wgrad/llm'
// resolve through package.json's exports. The tarball is laid out in node_modules/ as npm installs
// it, with its dependencies linked from this repository's install (fast, no registry); with
// WGRAD_TEST_NPM_INSTALL=1 (CI, which reaches the registry) a real `npm install TARBALL` is used.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliBuildOptions, libBuildOptions, root } from '../../scripts/cli-bundle.mjs';
import { asset, haveAssets } from '../io/shared-assets.ts';

const HF = 'models/stories260K-hf';
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-pack-'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const realInstall = !!process.env.WGRAD_TEST_NPM_INSTALL;
let app = '';
let packed: string[] = [];

beforeAll(async () => {
  // A staging copy of the package: package.json, README and the built files (types are made by
  // `npm run build:types` in prepack; tsc takes a minute, so here a stub stands in for them).
  const stage = join(tmp, 'stage');
  mkdirSync(join(stage, 'dist', 'types', 'engine'), { recursive: true });
  mkdirSync(join(stage, 'dist', 'types', 'llm'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(stage, 'package.json'));
  copyFileSync(join(root, 'README.md'), join(stage, 'README.md'));
  for (const m of ['engine', 'llm']) writeFileSync(join(stage, 'dist', 'types', m, 'index.d.ts'), 'export {};\n');
  await build({ ...cliBuildOptions(join(stage, 'dist', 'cli.js')), sourcemap: false });
  chmodSync(join(stage, 'dist', 'cli.js'), 0o755);
  await build(libBuildOptions(join(stage, 'dist', 'lib')));
  writeFileSync(join(stage, 'dist', 'stray.txt'), 'not listed in files');
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: stage, encoding: 'utf8' });
  const info = JSON.parse(out)[0] as { filename: string; files: { path: string }[] };
  packed = info.files.map((f) => f.path);
  const tarball = join(tmp, info.filename);

  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  if (realInstall) {
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', tarball], { cwd: app, stdio: 'ignore' });
    return;
  }
  const dest = join(app, 'node_modules', 'wgrad');
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = join(app, 'node_modules', dep);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), link);
  }
  mkdirSync(join(app, 'node_modules', '.bin'));
  symlinkSync(join('..', 'wgrad', pkg.bin.wgrad), join(app, 'node_modules', '.bin', 'wgrad'));
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the npm package', () => {
  it('packs the CLI, the library and the types, nothing else; webgpu is a runtime dependency', () => {
    expect(packed).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/cli.js', 'dist/lib/engine.js', 'dist/lib/llm.js', 'dist/types/engine/index.d.ts']));
    expect(packed.filter((p) => !/^(package\.json|README\.md|dist\/(cli\.js|lib\/.*|types\/.*))$/.test(p))).toEqual([]);
    expect(pkg.dependencies.webgpu).toBeDefined();
    expect(pkg.devDependencies?.webgpu).toBeUndefined();
  });

  it('npx wgrad runs from another folder: --version, and generate on a real model', () => {
    const env = { ...process.env, WGRAD_BACKEND: 'cpu' };
    let r = spawnSync('npx', ['--no-install', 'wgrad', '--version'], { cwd: app, encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    if (!haveAssets(HF)) return;
    r = spawnSync('npx', ['--no-install', 'wgrad', 'generate', '--model', asset(HF), '--max-tokens', '8', 'Once upon'], { cwd: app, encoding: 'utf8', env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(' a time, there was a little g\n'); // stories260K greedy, 8 tokens
  }, 60_000);

  it('import "wgrad" and "wgrad/llm" resolve through exports, sharing one engine', () => {
    const script = "import * as w from 'wgrad'; import * as l from 'wgrad/llm'; " +
      "await w.init({ backend: 'cpu' }); const t = w.tensor([1, 2, 3], [3]); console.log(await w.sum(t).item(), typeof l.loadLlama);";
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('6 function');
  });
});
