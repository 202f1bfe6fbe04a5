// --reward-funcs: built-in names and JavaScript/TypeScript module paths, comma-separated. A module's
// default export (or its only exported function) is the reward; its metric name is the file's stem
// (TRL names a function's metrics after its __name__).
import { accuracy, format, softOverlong, thinkFormat, BUILTIN_REWARDS } from './builtins.ts';
import type { NamedReward, RewardFunction, RewardInputs } from './types.ts';

export interface RewardLoadOptions {
  /** soft_overlong's L_max (--max-completion-length). */
  maxCompletionLength: number;
  /** soft_overlong's L_cache (default: a quarter of L_max, as DAPO's 4096 of 16384). */
  softPunishCache?: number;
}

function isPath(spec: string): boolean {
  return /[/\\]|\.(?:[cm]?[jt]s)$/.test(spec);
}

export async function loadRewardFunctions(specs: readonly string[], o: RewardLoadOptions): Promise<NamedReward[]> {
  const out: NamedReward[] = [];
  for (const raw of specs) {
    const spec = raw.trim();
    if (!spec) throw new Error('--reward-funcs: empty entry (expected built-in names or module paths, comma-separated)');
    if (isPath(spec)) out.push(await loadRewardModule(spec));
    else out.push({ name: spec, fn: builtin(spec, o) });
  }
  const names = out.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`--reward-funcs: "${dup}" appears twice (its metrics rewards/${dup}/* would collide)`);
  return out;
}

function builtin(name: string, o: RewardLoadOptions): RewardFunction {
  switch (name) {
    case 'accuracy': return accuracy;
    case 'format': return format;
    case 'think_format': return thinkFormat;
    case 'soft_overlong': return softOverlong(o.maxCompletionLength, o.softPunishCache ?? Math.max(1, Math.floor(o.maxCompletionLength / 4)));
    default: throw new Error(`--reward-funcs: unknown reward "${name}" (built-ins: ${BUILTIN_REWARDS.join(', ')}; or a path to a .js/.mjs/.ts module)`);
  }
}

async function loadRewardModule(path: string): Promise<NamedReward> {
  const { resolve, basename } = await import('node:path');
  const { pathToFileURL } = await import('node:url');
  const { access } = await import('node:fs/promises');
  const abs = resolve(path);
  try { await access(abs); } catch { throw new Error(`reward module ${path}: no such file`); }
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(abs, pathToFileURL(abs).href);
  } catch (e) {
    throw new Error(`reward module ${path}: could not be loaded: ${(e as Error).message}`);
  }
  const fns = Object.entries(mod).filter(([, v]) => typeof v === 'function');
  const fn = typeof mod.default === 'function' ? mod.default : fns.length === 1 ? fns[0][1] : null;
  if (!fn) {
    throw new Error(`reward module ${path}: exports no reward function (expected \`export default function reward({ prompts, completions, completionIds, ...columns })\`${fns.length > 1 ? `; found several: ${fns.map(([k]) => k).join(', ')}` : ''})`);
  }
  return { name: basename(abs).replace(/\.[cm]?[jt]s$/, ''), fn: fn as RewardFunction };
}

/** import(), and for TypeScript where the runtime cannot (Node < 22.6), esbuild's transform first. */
async function importModule(abs: string, url: string): Promise<Record<string, unknown>> {
  try {
    return await import(/* @vite-ignore */ url);
  } catch (e) {
    if (!/\.[cm]?ts$/.test(abs) || (e as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  }
  const { readFile, writeFile, rm } = await import('node:fs/promises');
  // A computed specifier: bundlers (the CLI and the browser pages) must not pull esbuild in.
  const specifier = ['es', 'build'].join('');
  const esbuild = (await import(/* @vite-ignore */ specifier).catch(() => {
    throw new Error('this runtime cannot import TypeScript and esbuild is not installed; compile the module to .mjs');
  })) as typeof import('esbuild');
  const { code } = await esbuild.transform(await readFile(abs, 'utf8'), { loader: 'ts', format: 'esm', sourcefile: abs });
  const tmp = abs.replace(/\.[cm]?ts$/, `.wgrad-${process.pid}.mjs`);
  await writeFile(tmp, code);
  try {
    return await import(/* @vite-ignore */ `${url.replace(/\.[cm]?ts$/, '')}.wgrad-${process.pid}.mjs`);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Every reward function over one generation batch → scores [N][K] (null: not scored). A function
 * that throws, or returns something other than N numbers or nulls, is reported with its name and the step.
 */
export async function scoreCompletions(rewards: readonly NamedReward[], inputs: RewardInputs): Promise<(number | null)[][]> {
  const N = inputs.completions.length;
  const perFunc: (number | null)[][] = [];
  for (const { name, fn } of rewards) {
    let out: unknown;
    try {
      out = await fn(inputs);
    } catch (e) {
      throw new Error(`reward "${name}" threw at step ${inputs.step}: ${(e as Error).message ?? e}`);
    }
    if (!Array.isArray(out) || out.length !== N) {
      throw new Error(`reward "${name}" at step ${inputs.step}: expected an array of ${N} scores (one per completion), got ${Array.isArray(out) ? `${out.length} scores` : typeof out}`);
    }
    const bad = out.findIndex((v) => v !== null && v !== undefined && typeof v !== 'number');
    if (bad >= 0) throw new Error(`reward "${name}" at step ${inputs.step}: score ${bad} is ${JSON.stringify(out[bad])} (expected a number or null)`);
    perFunc.push(out.map((v) => (v === undefined || v === null ? null : (v as number))));
  }
  return Array.from({ length: N }, (_, i) => perFunc.map((s) => s[i]));
}
