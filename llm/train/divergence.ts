// Divergence, noticed while training instead of after: a language-model loss above ln(vocab) + a
// margin is worse than guessing uniformly over the vocabulary (the loss of an untrained model is
// near ln(vocab)), and an eval loss that rises evaluation after evaluation is running away.
// Single spikes are normal, so both need `patience` in a row. The Trainer reads metrics one step
// late (llm/train/trainer.ts), so a monitor fed from onStep judges step N while step N + 1 is
// already queued: an abort it asks for lands one step later than the loss that caused it.

export interface DivergenceOptions {
  /** The vocabulary size; the uniform-guess bound applies to token-level cross-entropy (SFT). */
  vocabSize?: number;
  /** nats above ln(vocab) (default 1). */
  margin?: number;
  /** Consecutive steps above the bound, or consecutive rising evaluations (default 3). */
  patience?: number;
}

export class DivergenceMonitor {
  private above = 0;
  private rises = 0;
  private lastEval: number | null = null;
  private firstRise = 0;
  /** The first diagnosis; null while training looks sane. */
  diagnosis: string | null = null;
  /** The step where the diverging streak began (checkpoints before it are the good ones). */
  since: number | null = null;

  constructor(private readonly o: DivergenceOptions = {}) {}

  get bound(): number | null {
    return this.o.vocabSize ? Math.log(this.o.vocabSize) + (this.o.margin ?? 1) : null;
  }

  /** A training step's loss; returns the diagnosis the first time training looks diverged. */
  step(step: number, loss: number): string | null {
    const bound = this.bound;
    if (bound === null) return null;
    this.above = loss > bound ? this.above + 1 : 0;
    if (this.above >= (this.o.patience ?? 3)) {
      return this.diagnose(step - this.above + 1, `loss ${loss.toFixed(3)} at step ${step} has been above ln(vocab ${this.o.vocabSize}) + ${this.o.margin ?? 1} = ${bound.toFixed(3)} ` +
        `(worse than guessing uniformly) for ${this.above} steps; lower the learning rate`);
    }
    return null;
  }

  /** An evaluation's loss. */
  eval(step: number, loss: number): string | null {
    this.rises = this.lastEval !== null && loss > this.lastEval ? this.rises + 1 : 0;
    if (this.rises === 1) this.firstRise = step;
    this.lastEval = loss;
    if (this.rises >= (this.o.patience ?? 3)) return this.diagnose(this.firstRise, `eval loss rose ${this.rises} evaluations in a row (to ${loss.toFixed(4)} at step ${step})`);
    return null;
  }

  private diagnose(since: number, msg: string): string | null {
    if (this.diagnosis !== null) return null;
    this.diagnosis = msg;
    this.since = since;
    return msg;
  }
}
