// Training progress on stderr: a bar on a terminal, and a plain line every N steps elsewhere (CI,
// nohup, piped logs), where a bar's carriage returns would be noise or nothing at all.
import { SingleBar } from 'cli-progress';
import type { EvalRecord, StepRecord } from '../llm/train/trainer.ts';
import { log } from './args.ts';

export interface Progress {
  step: (r: StepRecord) => void;
  eval: (r: EvalRecord) => void;
  /** The run's step count, once known (--num-train-epochs decides it after the data is read). */
  start: (info: { maxSteps: number }) => void;
  /** Idempotent; restores the cursor. */
  stop: () => void;
}

const fmt = (x: number | null | undefined, digits = 3) => (x === undefined || x === null ? '-' : x.toFixed(digits));

export function progressReporter(o: { method: string; maxSteps: number; logEvery: number; tty?: boolean }): Progress {
  const pref = o.method !== 'sft';
  const evalLine = (e: EvalRecord) => `eval step ${e.step}: ` + Object.entries(e).filter(([k]) => k !== 'step').map(([k, x]) => `${k} ${x.toFixed(4)}`).join(', ');
  // Run as the child of cli/quiet.ts, stderr is a pipe to a terminal the parent reports.
  const viaParent = !!process.env.WGRAD_STDERR_TTY;
  if (!(o.tty ?? (viaParent || process.stderr.isTTY))) {
    const t0 = performance.now();
    let first: number | null = null;
    return {
      step: (r) => {
        first ??= r.step - 1;
        if (r.step % o.logEvery !== 0 && r.step !== o.maxSteps) return;
        const s = (performance.now() - t0) / 1000, done = r.step - first;
        const eta = done > 0 ? (s / done) * (o.maxSteps - r.step) : 0;
        log(`${o.method} step ${r.step}/${o.maxSteps}: loss ${fmt(r.loss, 4)}, lr ${r.lr.toExponential(2)}, grad_norm ${fmt(r.grad_norm)}` +
          (pref ? `, rewards/margins ${fmt(r['rewards/margins'])}, rewards/accuracies ${fmt(r['rewards/accuracies'], 2)}` : '') +
          `, ${r.tokens_per_second.toFixed(0)} tokens/s, elapsed ${s.toFixed(0)} s, ETA ${eta.toFixed(0)} s`);
      },
      eval: (e) => log(evalLine(e)),
      start: (info) => { o.maxSteps = info.maxSteps; },
      stop: () => {},
    };
  }
  const bar = new SingleBar({
    format: `${o.method} |{bar}| {value}/{total} steps | loss {loss}${pref ? ' | margins {margins} | acc {acc}' : ''} | {tps} tok/s | ETA {eta_formatted}`,
    hideCursor: true,
    // Through the parent's pipe: a stream that says it is the terminal, with the terminal's width.
    stream: viaParent ? ({ isTTY: true, columns: Number(process.env.WGRAD_STDERR_COLUMNS) || 80, write: (s: string) => process.stderr.write(s) } as unknown as NodeJS.WritableStream) : process.stderr,
  });
  let running = false;
  const start = (step: number) => { if (!running) { bar.start(o.maxSteps, step - 1, { loss: '-', tps: '-', margins: '-', acc: '-' }); running = true; } };
  return {
    step: (r) => {
      start(r.step);
      bar.update(r.step, { loss: r.loss.toFixed(4), tps: r.tokens_per_second.toFixed(0), margins: fmt(r['rewards/margins']), acc: fmt(r['rewards/accuracies']) });
    },
    eval: (e) => { if (running) bar.stop(); running = false; log(evalLine(e)); },
    start: (info) => { o.maxSteps = info.maxSteps; },
    stop: () => { if (running) bar.stop(); running = false; },
  };
}
