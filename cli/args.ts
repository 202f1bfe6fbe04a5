// The argument parser shared by every command (commander underneath): options are declared as
// tables of `Flag`s, so adding a flag to a command is one line in that command's table or in a
// shared group (cli/options.ts). Values are checked where they are parsed, and every error names the
// flag the user typed and what was expected. TRL and mlx-lm spellings are aliases: `--iters` for
// `--max-steps`, and snake_case for every long flag (`--gradient_accumulation_steps`).
import { Command, CommanderError, Option } from 'commander';

export class UsageError extends Error {}

/** Ends the command with this exit status (130 after SIGINT, ...) after printing the message. */
export class Exit extends Error {
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

/** Logs go to stderr so stdout carries only a command's real output. */
export const log = (...a: unknown[]) => console.error(...a);

/** A value parser: gets the raw text and the flag as the user typed it; throws UsageError. */
export type ParseValue<T = unknown> = (raw: string, flag: string) => T;

export interface Flag {
  /** commander syntax: '--max-steps <n>', '--packing', '-h, --help'. */
  flags: string;
  help: string;
  parse?: ParseValue;
  default?: unknown;
  /** Other long names meaning the same (TRL, mlx-lm, PEFT spellings), hidden from the help. */
  aliases?: string[];
  hidden?: boolean;
}

const expectError = (flag: string, expected: string, raw: string) => new UsageError(`${flag} expects ${expected}, got "${raw}"`);

/** A finite number passing `ok`; `expected` describes the valid range for the message. */
export function number(expected = 'a number', ok: (n: number) => boolean = () => true): ParseValue<number> {
  return (raw, flag) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || !ok(n)) throw expectError(flag, expected, raw);
    return n;
  };
}
export const anyNumber = number();
export const positive = number('a positive number', (n) => n > 0);
export const nonNegative = number('a number ≥ 0', (n) => n >= 0);
export const integer = number('an integer', Number.isInteger);
export const positiveInt = number('a positive integer', (n) => Number.isInteger(n) && n > 0);
export const nonNegativeInt = number('an integer ≥ 0', (n) => Number.isInteger(n) && n >= 0);
export const fraction = number('a fraction in [0, 1)', (n) => n >= 0 && n < 1);

export function choice<T extends string>(values: readonly T[]): ParseValue<T> {
  return (raw, flag) => {
    if (!values.includes(raw as T)) throw expectError(flag, values.join(' | '), raw);
    return raw as T;
  };
}

/** A comma-separated list (YAML lists arrive joined by commas). */
export const list: ParseValue<string[]> = (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean);

/** The long flag of a commander flags string: '-h, --help' → '--help'. */
const longName = (flags: string) => /--[\w-]+/.exec(flags)![0];
/** commander's attribute name for a long flag: '--max-steps' → 'maxSteps'. */
export const attrName = (long: string) => long.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

function makeOption(f: Flag, flags: string, hidden: boolean): Option {
  const o = new Option(flags, f.help);
  const parse = f.parse;
  const long = longName(flags);
  if (parse) o.argParser((raw: string) => parse(raw, long));
  if (f.default !== undefined) o.default(f.default);
  if (hidden) o.hideHelp();
  return o;
}

export interface CommandSpec {
  name: string;
  /** One line for `wgrad --help`; `description` (optional) is the longer text of `wgrad NAME --help`. */
  summary: string;
  description?: string;
  /** commander argument syntax, e.g. '[prompt...]'. */
  args?: string[];
  flags: Flag[];
  /** Extra text after the option list. */
  after?: string;
  run: (opts: Record<string, unknown>, args: unknown[], cmd: Command) => Promise<void> | void;
  subcommands?: CommandSpec[];
}

/** Aliases of a command: the hidden alias attribute → the flag it stands for. */
const aliasesOf = new WeakMap<Command, [string, string, string][]>();

export function buildCommand(spec: CommandSpec, parent: Command): Command {
  const cmd = parent.command(spec.name).summary(spec.summary).description(spec.description ?? spec.summary);
  for (const a of spec.args ?? []) cmd.argument(a);
  const aliases: [string, string, string][] = [];
  for (const f of spec.flags) {
    const long = longName(f.flags);
    const names = f.aliases?.length ? `${f.help} (also ${f.aliases.join(', ')})` : f.help;
    cmd.addOption(makeOption({ ...f, help: names }, f.flags, !!f.hidden));
    for (const a of f.aliases ?? []) {
      // The alias takes the same kind of value as the flag it stands for.
      const value = f.flags.slice(f.flags.indexOf(long) + long.length);
      cmd.addOption(makeOption({ ...f, default: undefined }, a + value, true));
      aliases.push([attrName(a), attrName(long), a]);
    }
  }
  aliasesOf.set(cmd, aliases);
  if (spec.after) cmd.addHelpText('after', '\n' + spec.after);
  configure(cmd);
  // A command with subcommands and no arguments of its own: a stray word is a mistyped subcommand.
  const subs = (spec.subcommands ?? []).map((x) => x.name);
  if (subs.length && !spec.args?.length) cmd.allowExcessArguments(true);
  cmd.action(async (...actionArgs: unknown[]) => {
    const c = actionArgs[actionArgs.length - 1] as Command;
    if (subs.length && !spec.args?.length && c.args.length) {
      const near = subs.filter((n) => n.startsWith(c.args[0].slice(0, 3)));
      throw new UsageError(`unknown subcommand '${c.args[0]}'${near.length ? ` (did you mean ${near.join(', ')}?)` : ` (subcommands: ${subs.join(', ')})`}`);
    }
    resolveAliases(c);
    await spec.run(c.opts(), c.processedArgs, c);
  });
  for (const sub of spec.subcommands ?? []) buildCommand(sub, cmd);
  return cmd;
}

function resolveAliases(cmd: Command): void {
  for (const [alias, target, aliasFlag] of aliasesOf.get(cmd) ?? []) {
    const v = cmd.getOptionValue(alias);
    if (v === undefined) continue;
    const from = cmd.getOptionValueSource(alias), targetFrom = cmd.getOptionValueSource(target);
    if (targetFrom === from) {
      throw new UsageError(`${aliasFlag} and --${target.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} mean the same; give one`);
    }
    // The command line beats a config file, whichever spelling each used.
    if (targetFrom !== 'cli') cmd.setOptionValueWithSource(target, v, from);
    cmd.setOptionValueWithSource(alias, undefined, undefined);
  }
}

/** Errors are written by main() as `wgrad CMD: message`; help goes to stdout. */
export function configure(cmd: Command): Command {
  return cmd
    .exitOverride()
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .configureOutput({ outputError: () => {} })
    .configureHelp({ showGlobalOptions: false, sortOptions: false });
}

/** The command path of a commander command: 'wgrad bench compare'. */
export function commandPath(cmd: Command | null): string {
  const names: string[] = [];
  for (let c = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Flags written in snake_case (TRL's HfArgumentParser spelling) become kebab-case, for the names
 * that exist; everything after `--` is left alone.
 */
export function normalizeArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { out.push(...argv.slice(i)); break; }
    const m = /^(--[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+)(=.*)?$/s.exec(a);
    out.push(m ? m[1].replace(/_/g, '-') + (m[2] ?? '') : a);
  }
  return out;
}

/**
 * Settings from a YAML/JSON mapping (`--config`): keys are the flag names with - or _; values pass
 * through the same parsers as on the command line, and flags given on the command line win.
 */
export function applyConfig(cmd: Command, raw: unknown, file: string): void {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`--config ${file}: expected a mapping of option names to values`);
  const options = new Map(cmd.options.map((o) => [o.long!, o]));
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const flag = '--' + k.replace(/_/g, '-');
    const o = options.get(flag);
    if (!o || flag === '--config' || flag === '--help') throw new UsageError(`--config ${file}: unknown key "${k}"`);
    const attr = o.attributeName();
    if (cmd.getOptionValueSource(attr) === 'cli') continue;
    let value: unknown;
    if (o.isBoolean()) {
      if (typeof v !== 'boolean') throw new UsageError(`--config ${file}: "${k}" must be true or false`);
      value = v;
    } else {
      const text = Array.isArray(v) ? v.join(',') : String(v);
      try {
        value = o.parseArg ? o.parseArg(text, undefined) : text;
      } catch (e) {
        throw new UsageError(`--config ${file}: "${k}": ${(e as Error).message}`);
      }
    }
    cmd.setOptionValueWithSource(attr, value, 'config');
  }
  resolveAliases(cmd);
}

/** Turns a commander error into the message main() prints, or null for help/version (exit 0). */
export function commanderMessage(e: CommanderError): string | null {
  if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code)) return null;
  return e.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)');
}

export { Command, CommanderError };
