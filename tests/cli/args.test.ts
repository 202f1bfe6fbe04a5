// The parser, in process (no build, no model): per-command help, did-you-mean, negative numbers,
// aliases (TRL/mlx-lm names and snake_case), errors that name the flag, --version, --config.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildCommand, Command, configure, normalizeArgv, positiveInt, number, UsageError, applyConfig } from '../../cli/args.ts';
import { main } from '../../cli/program.ts';
import { WGRAD_VERSION } from '../../bench/fingerprint.ts';
import { inFlagTerms } from '../../cli/errors.ts';
import { noiseFilter, shouldFilter } from '../../cli/quiet.ts';

const tmp = mkdtempSync(join(tmpdir(), 'wgrad-args-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let out = '', err = '';
beforeEach(() => {
  out = ''; err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => { out += String(s); return true; });
  vi.spyOn(console, 'log').mockImplementation((...a) => { out += a.join(' ') + '\n'; });
  vi.spyOn(console, 'error').mockImplementation((...a) => { err += a.join(' ') + '\n'; });
});
afterEach(() => vi.restoreAllMocks());

/** A throwaway command whose action records what it got. */
function probe(flags: Parameters<typeof buildCommand>[0]['flags'], args: string[] = []) {
  const got: { opts?: Record<string, unknown>; args?: unknown[] } = {};
  const p = configure(new Command('wgrad'));
  const cmd = buildCommand({ name: 'x', summary: 'x', args, flags, run: (o, a) => { got.opts = o; got.args = a; } }, p);
  return { p, cmd, got, parse: (...argv: string[]) => p.parseAsync(normalizeArgv(['x', ...argv]), { from: 'user' }) };
}

describe('wgrad argument parser', () => {
  it('--version prints the package version; no command prints the usage and exits 2', async () => {
    expect(await main(['--version'])).toBe(0);
    expect(out.trim()).toBe(WGRAD_VERSION);
    expect(await main([])).toBe(2);
  });

  it('per-command --help lists the command\'s own flags and does not run it', async () => {
    expect(await main(['doctor', '--help'])).toBe(0);
    expect(out).toContain('Usage: wgrad doctor');
    expect(out).not.toContain('runtime: node');
    out = '';
    expect(await main(['train', '--help'])).toBe(0);
    for (const f of ['--max-steps', '--gradient-accumulation-steps', '--save-total-limit', '--num-layers', '--fine-tune-type', '--lora-r']) expect(out).toContain(f);
  });

  it('suggests the closest command and flag, naming the command', async () => {
    expect(await main(['genrate'])).toBe(2);
    expect(err).toContain("wgrad: unknown command 'genrate' (did you mean generate?)");
    err = '';
    expect(await main(['generate', '--modle', 'x'])).toBe(2);
    expect(err).toContain("wgrad generate: unknown option '--modle' (did you mean --model?)");
    err = '';
    expect(await main(['bench', 'compar', 'a.json'])).toBe(2);
    expect(err).toContain("wgrad bench: unknown subcommand 'compar' (did you mean compare?)");
  });

  it('bad values name the flag as typed and what was expected', async () => {
    expect(await main(['generate', '--model', 'm', '--top-p', '7'])).toBe(2);
    expect(err).toContain('wgrad generate: --top-p expects a number in (0, 1], got "7"');
    err = '';
    expect(await main(['train', '--gradient_accumulation_steps', '0'])).toBe(2);
    expect(err).toContain('wgrad train: --gradient-accumulation-steps expects a positive integer, got "0"');
    err = '';
    expect(await main(['train', '--method', 'ppo'])).toBe(2);
    expect(err).toContain('--method expects sft | dpo | orpo | cpo | simpo | kto | reinforcement, got "ppo"');
    err = '';
    expect(await main(['train', '--iters', '3', '--max-steps', '4'])).toBe(2);
    expect(err).toContain('--iters and --max-steps mean the same; give one');
    err = '';
    expect(await main(['train', '--fine-tune-type', 'dora'])).toBe(2);
    expect(err).toContain('--fine-tune-type dora is not supported');
    err = '';
    expect(await main(['generate', '--max-tokens'])).toBe(2);
    expect(err).toContain("option '--max-tokens <n>' argument missing");
  });

  it('library option names in errors become the flags the user typed', () => {
    expect(inFlagTerms("tok.json has no chat template, needed for the conversation at d.jsonl:3; pass chatTemplate: 'chatml' (a documented ChatML fallback)"))
      .toBe('tok.json has no chat template, needed for the conversation at d.jsonl:3; pass --chat-template chatml (a documented ChatML fallback)');
    expect(inFlagTerms('maxPromptLength (300) must be smaller than maxLength (256)')).toBe('--max-prompt-length (300) must be smaller than --max-length (256)');
    expect(inFlagTerms('x.txt: unknown data file type (expected .jsonl, optionally + .gz; or pass fileFormat)')).toContain('rename the file');
  });

  it('GPU-runtime noise is dropped from stderr, everything else passes (progress redraws at once)', () => {
    let shown = '';
    const f = noiseFilter((x) => { shown += x; });
    for (const chunk of ['wgrad: backend cpu\nWarning: vkCreateInstance: Found no drivers!\nWarning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER\n',
      '    at CheckVkSuccessImpl (/dawn/src/dawn/native/vulkan/VulkanError.cpp:106)\n\nsft |███', '░| 1/4\rsft |████| 2/4', '\nerror: XDG_RUNTIME_DIR is invalid or not set\n',
      'Warning: a data row was skipped\n']) f.push(chunk);
    f.end();
    expect(shown).toBe('wgrad: backend cpu\nsft |███░| 1/4\rsft |████| 2/4\nWarning: a data row was skipped\n');
    expect(shouldFilter(['train'], {})).toBe(true);
    expect(shouldFilter(['train', '--verbose'], {})).toBe(false);
    expect(shouldFilter(['train'], { WGRAD_CLI_CHILD: '1' })).toBe(false);
  });

  it('negative numbers are values, for flags and for positionals', async () => {
    const { parse, got } = probe([{ flags: '--seed <s>', help: '', parse: number() }], ['[rest...]']);
    await parse('--seed', '-3', '-1.5e2', '-7');
    expect(got.opts!.seed).toBe(-3);
    expect(got.args).toEqual([['-1.5e2', '-7']]);
  });

  it('aliases (TRL, mlx-lm, snake_case, --flag=value) land on the flag they stand for', async () => {
    const { parse, got } = probe([{ flags: '--grad-accum <n>', help: '', default: 1, parse: positiveInt, aliases: ['--gradient-accumulation-steps'] }]);
    await parse('--gradient_accumulation_steps=4');
    expect(got.opts!.gradAccum).toBe(4);
    await parse();
    expect(got.opts!.gradAccum).toBe(1);
  });

  it('--config values pass through the same parsers; the command line wins', async () => {
    const { parse, cmd } = probe([
      { flags: '--lr <x>', help: '', parse: number('a positive number', (n) => n > 0) },
      { flags: '--grad-accum <n>', help: '', default: 1, parse: positiveInt, aliases: ['--gradient-accumulation-steps'] },
      { flags: '--packing', help: '' },
    ]);
    await parse('--lr', '0.5');
    applyConfig(cmd, { lr: 2, gradient_accumulation_steps: 3, packing: true }, 'c.yaml');
    expect(cmd.opts()).toMatchObject({ lr: 0.5, gradAccum: 3, packing: true });
    expect(() => applyConfig(cmd, { grad_accum: 0 }, 'c.yaml')).toThrow(/--config c.yaml: "grad_accum": --grad-accum expects a positive integer, got "0"/);
    expect(() => applyConfig(cmd, { lr_typo: 1 }, 'c.yaml')).toThrow(UsageError);
    expect(() => applyConfig(cmd, { packing: 'yes' }, 'c.yaml')).toThrow(/"packing" must be true or false/);
  });

  it('--model is recognised by content: a safetensors or JSON file names the folder to pass', async () => {
    const st = join(tmp, 'model.safetensors');
    const header = Buffer.from('{"__metadata__":{}}');
    const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(st, Buffer.concat([len, header]));
    expect(await main(['generate', '--model', st, 'hi'])).toBe(2);
    expect(err).toContain(`is a safetensors file; pass the folder holding it and its config.json: --model ${tmp}`);
    err = '';
    writeFileSync(join(tmp, 'junk.bin'), Buffer.from('hello world, not a model'));
    expect(await main(['generate', '--model', join(tmp, 'junk.bin'), 'hi'])).toBe(2);
    expect(err).toContain('is neither a Hugging Face folder nor a llama2.c checkpoint');
  });
});
