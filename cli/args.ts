// Flag parsing on node:util's parseArgs, with errors that name the flag and what was expected.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } as const, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`wgrad ${command}: ${(e as Error).message}`);
  }
}

export class UsageError extends Error {}

/** A numeric flag; `expected` describes the valid range for the error message. */
export function numberFlag(command: string, name: string, v: string | undefined, fallback: number, expected = 'a number', check?: (n: number) => boolean): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (check && !check(n))) throw new UsageError(`wgrad ${command}: --${name} expects ${expected}, got "${v}"`);
  return n;
}

/** Logs go to stderr so stdout carries only a command's real output. */
export const log = (...a: unknown[]) => console.error(...a);
