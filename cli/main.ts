// The wgrad command line.
import { UsageError } from './args.ts';
import { abliterateCommand, abliterateHelp } from './commands/abliterate.ts';
import { benchCommand, benchHelp } from './commands/bench.ts';
import { demoCommand, demoHelp } from './commands/demo.ts';
import { doctorCommand } from './commands/doctor.ts';
import { generateCommand, generateHelp } from './commands/generate.ts';
import { steerCommand, steerHelp } from './commands/steer.ts';
import { trainCommand, trainHelp } from './commands/train.ts';

const commands: Record<string, [(argv: string[]) => Promise<void>, string]> = {
  train: [trainCommand, trainHelp],
  generate: [generateCommand, generateHelp],
  abliterate: [abliterateCommand, abliterateHelp],
  steer: [steerCommand, steerHelp],
  bench: [benchCommand, benchHelp],
  demo: [demoCommand, demoHelp],
  doctor: [doctorCommand, 'wgrad doctor   show the backends this machine can run and why others cannot'],
};

const usage = `wgrad: autodiff tensors on WebGPU, and LLM fine-tuning built on them

usage: wgrad <command> [options]   (wgrad <command> --help for its options)

${Object.values(commands).map(([, h]) => '  ' + h.split('\n')[0]).join('\n')}`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') { console.log(usage); return name ? 0 : 1; }
  const cmd = commands[name];
  if (!cmd) { console.error(`wgrad: unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`); return 2; }
  try {
    await cmd[0](rest);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) { console.error(e.message); return 2; }
    console.error(`wgrad ${name}: ${(e as Error).message}`);
    if (process.env.WGRAD_DEBUG) console.error((e as Error).stack);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
