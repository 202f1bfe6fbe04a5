// Dawn and the Vulkan loader print from native code straight to file descriptor 2 ("Warning:
// vkCreateInstance failed ...", "error: XDG_RUNTIME_DIR is invalid"), which Node cannot redirect in
// process. So `wgrad` runs itself as a child with stderr piped and drops those lines (and their
// indented continuation lines), passing everything else through as it comes; --verbose (or
// WGRAD_VERBOSE=1) shows them. Signals: a terminal's Ctrl-C reaches both processes, a `kill` only
// this one, so the parent forwards each signal and the child ignores a repeat within a second.
import { spawn } from 'node:child_process';

/** Native GPU-runtime messages: a first line, then lines indented under it. */
const NOISE = /^(Warning|Error|error|Info): .*(Vulkan|vulkan|vk[A-Z]|Dawn|dawn|XDG_RUNTIME_DIR|loader_|ICD|adapter|Adapter|GPU)/;
const CONTINUATION = /^( - While |\s+at \S+ \(|\s*$)/;

export const CHILD_ENV = 'WGRAD_CLI_CHILD';

export function shouldFilter(argv: string[], env = process.env): boolean {
  return !env[CHILD_ENV] && !env.WGRAD_VERBOSE && !argv.includes('--verbose') && !argv.includes('--help') && !argv.includes('-h');
}

/** A line filter over a byte stream: whole lines are judged; a trailing partial line (a progress bar) passes at once. */
export function noiseFilter(write: (s: string) => void) {
  let pending = '';
  let inNoise = false;
  const judge = (line: string, end: string) => {
    if (NOISE.test(line)) { inNoise = true; return; }
    if (inNoise && CONTINUATION.test(line)) return;
    inNoise = false;
    write(line + end);
  };
  return {
    push(chunk: string) {
      pending += chunk;
      let i: number;
      while ((i = pending.search(/[\r\n]/)) >= 0) {
        judge(pending.slice(0, i), pending[i]);
        pending = pending.slice(i + 1);
      }
      // A partial line that cannot be noise yet (progress bars redraw without a newline).
      if (pending && !/^(W|E|e|I)/.test(pending)) { write(pending); pending = ''; }
    },
    end() { if (pending) judge(pending, ''); pending = ''; },
  };
}

/** In the child: die with the parent (kill -9 of `wgrad` must not leave a run going on). */
export function followParent(): void {
  if (!process.env[CHILD_ENV] || !process.channel) return;
  process.channel.unref();
  process.on('disconnect', () => process.exit(137));
}

export function runQuietly(entry: string, argv: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, entry, ...argv], {
    // The IPC channel closes when this process dies, even by SIGKILL: the child then exits too.
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, [CHILD_ENV]: '1', WGRAD_STDERR_TTY: process.stderr.isTTY ? '1' : '', WGRAD_STDERR_COLUMNS: String(process.stderr.columns ?? '') },
  });
  const filter = noiseFilter((s) => process.stderr.write(s));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => filter.push(s));
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      filter.end();
      resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
    });
  });
}
