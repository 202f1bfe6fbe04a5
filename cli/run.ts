// The CLI side of a training run's folder and lifetime: run.json from the flags, refusing or
// resuming another run's folder, SIGINT/SIGTERM turned into "finish the step, checkpoint, exit",
// and file-system errors named with the folder they hit.
import { WGRAD_VERSION } from '../bench/fingerprint.ts';
import { checkRunDir, fingerprintData, prepareRunDir, RunDirError, type PreparedRun } from '../llm/train/run-dir.ts';
import { attrName, log, UsageError, type Command } from './args.ts';
import type { ModelPaths } from './model-path.ts';
import { fsReason } from './output-dir.ts';

/** Flags that may change on --resume: how long, how often to log/eval/save, where, on what. */
const MAY_DIFFER = ['max-steps', 'num-train-epochs', 'eval-every', 'save-every', 'save-total-limit', 'log-every', 'backend', 'verbose',
  'stop-on-divergence', 'adapter-path', 'output-dir', 'resume', 'overwrite', 'config'];

/** The settings of a run by flag name (defaults included), as run.json records them. */
export function runSettings(cmd: Command, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const opt of cmd.options) {
    if (opt.hidden || !opt.long || opt.long === '--help') continue;
    const v = values[attrName(opt.long)];
    if (v !== undefined) out[opt.long.slice(2)] = v;
  }
  return out;
}

const runOptions = (values: Record<string, unknown>) => ({
  resume: !!values.resume, overwrite: !!values.overwrite, names: { resume: '--resume', overwrite: '--overwrite' }, mayDiffer: MAY_DIFFER,
});

/** Refuses a folder holding another run (or --resume without a checkpoint) before the model loads. */
export async function checkRun(out: string, values: Record<string, unknown>): Promise<void> {
  try {
    await checkRunDir(out, runOptions(values));
  } catch (e) {
    throw e instanceof RunDirError ? new UsageError(e.message) : e;
  }
}

export async function prepareRun(out: string, cmd: Command, values: Record<string, unknown>, paths: ModelPaths, device: string): Promise<PreparedRun> {
  const data = [values.data as string, ...(values.valid ? [values.valid as string] : [])];
  const record = {
    settings: runSettings(cmd, values),
    data: await fingerprintData(data),
    model: paths.model,
    seed: values.seed as number,
    versions: { wgrad: WGRAD_VERSION, node: process.versions.node },
    device,
    command: process.argv.slice(2),
    created: new Date().toISOString(),
  };
  try {
    const run = await prepareRunDir(out, record, runOptions(values));
    if (run.checkpoint) log(`wgrad: resuming from ${run.checkpoint} (step ${run.step})`);
    return run;
  } catch (e) {
    if (e instanceof RunDirError) throw new UsageError(e.message);
    throw fsContext(e, out);
  }
}

/** The command line to continue this run: the same arguments with --resume (and without --overwrite). */
export function resumeCommand(argv = process.argv.slice(2)): string {
  const args = argv.filter((a) => a !== '--overwrite' && a !== '--overwrite-output-dir');
  if (!args.includes('--resume')) args.push('--resume');
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return ['wgrad', ...args.map(quote)].join(' ');
}

/**
 * SIGINT/SIGTERM abort the controller (the trainer finishes its step and writes a checkpoint); a
 * second signal exits at once. dispose() restores the default handlers.
 */
export function stopOnSignals(): { controller: AbortController; dispose: () => void } {
  const controller = new AbortController();
  let first = 0;
  const handler = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    // Under cli/quiet.ts a terminal's Ctrl-C arrives twice (from the terminal and forwarded by the
    // parent): a repeat within a second is the same keypress.
    if (controller.signal.aborted && performance.now() - first < 1000) return;
    if (controller.signal.aborted) {
      process.stderr.write('\x1b[?25h'); // the progress bar hides the cursor
      process.exit(code);
    }
    log(`\nwgrad: ${signal}: finishing this step and writing a checkpoint (${signal === 'SIGINT' ? 'Ctrl-C again' : 'a second signal'} quits at once)`);
    first = performance.now();
    controller.abort({ signal });
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { controller, dispose: () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); } };
}

/** An fs error (ENOSPC, EROFS, EACCES...) while writing a run, with the folder and what it means. */
export function fsContext(e: unknown, dir: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err.code !== 'string' || !/^E[A-Z]+$/.test(err.code) || err.code === 'ENOENT' && !err.path) return e;
  return new Error(`writing the run in ${dir} failed: ${fsReason(err)}${err.path ? ` (${err.path})` : ''}`);
}
