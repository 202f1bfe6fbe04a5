// What the test page leaves on window.__wgrad for the runner to read (plain JSON).
import type { CaseResult } from '../core/harness.ts';
import type { SmokeInfo } from '../core/smoke.ts';

export interface PageReport {
  done: boolean;
  smoke?: SmokeInfo;
  smokeError?: string;
  results: CaseResult[];
  /** An error outside any case (a backend that failed to start, a bundle that threw). */
  fatal?: string;
}
