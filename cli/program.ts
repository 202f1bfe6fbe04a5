// The wgrad command line: one commander program, one file per command in cli/commands/. main()
// returns the exit status; cli/main.ts is the executable's entry.
import { applyRuntimeEnv } from './runtime-env.mjs';
import { buildCommand, Command, CommanderError, Exit, commanderMessage, commandPath, configure, normalizeArgv, UsageError, type CommandSpec } from './args.ts';
import { WGRAD_VERSION } from '../bench/fingerprint.ts';
import { abliterateSpec } from './commands/abliterate.ts';
import { inFlagTerms } from './errors.ts';
import { benchSpec } from './commands/bench.ts';
import { convertAdapterSpec } from './commands/convert-adapter.ts';
import { demoSpec } from './commands/demo.ts';
import { doctorSpec } from './commands/doctor.ts';
import { generateSpec } from './commands/generate.ts';
import { mergeSpec } from './commands/merge.ts';
import { steerSpec } from './commands/steer.ts';
import { plotSpec } from './commands/plot.ts';
import { serveSpec } from './commands/serve.ts';
import { trainSpec } from './commands/train.ts';
import { jobsSpec } from './commands/jobs.ts';

export const COMMANDS: CommandSpec[] = [trainSpec, generateSpec, mergeSpec, convertAdapterSpec, abliterateSpec, steerSpec, plotSpec, benchSpec, serveSpec, jobsSpec, demoSpec, doctorSpec];

function program(): Command {
  const p = configure(new Command('wgrad'))
    .description('autodiff tensors on WebGPU, and LLM fine-tuning built on them')
    .version(WGRAD_VERSION, '-V, --version', 'print the version')
    .usage('<command> [options]   (wgrad <command> --help for its options)');
  for (const spec of COMMANDS) buildCommand(spec, p);
  return p;
}

/** Runs `wgrad ARGV`; returns the exit status (2: bad usage, 1: the command failed). */
export async function main(argv: string[]): Promise<number> {
  // Dawn reads these when it loads, so they are set before any command can create a backend. Deno
  // runs its own WebGPU (wgpu) on the system's Vulkan drivers, and `deno task wgrad` may not write env.
  if (!('Deno' in globalThis)) applyRuntimeEnv();
  const p = program();
  if (argv.length === 0) { p.outputHelp({ error: true }); return 2; }
  let running: Command = p;
  p.hook('preAction', (_, action) => { running = action; });
  try {
    await p.parseAsync(normalizeArgv(argv), { from: 'user' });
    return 0;
  } catch (e) {
    const where = commandPath(running === p ? findCommand(p, argv) : running);
    if (e instanceof CommanderError) {
      const msg = commanderMessage(e);
      if (msg === null) return 0;
      console.error(`${where}: ${msg}\n(see \`${where} --help\`)`);
      return 2;
    }
    if (e instanceof Exit) { if (e.message) console.error(`${where}: ${e.message}`); return e.code; }
    if (e instanceof UsageError) { console.error(`${where}: ${e.message}`); return 2; }
    console.error(`${where}: ${inFlagTerms((e as Error).message)}`);
    if (process.env.WGRAD_DEBUG || argv.includes('--verbose')) console.error((e as Error).stack);
    return 1;
  }
}

/** The deepest command named at the start of argv (for the prefix of a parse error). */
function findCommand(p: Command, argv: string[]): Command {
  let c = p;
  for (const a of argv) {
    const sub = c.commands.find((s) => s.name() === a);
    if (!sub) break;
    c = sub;
  }
  return c;
}
