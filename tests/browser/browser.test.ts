// `npm test` runs the core suite in headless Chromium through this file. Chromium missing is a
// failure that says what to install, unless WGRAD_SKIP_BROWSER=1.
import { describe, expect, it } from 'vitest';
import { formatFailures } from '../core/harness.ts';
import { chromiumMissingMessage, findChromium, runBrowserSuite } from './run.ts';

const skip = process.env.WGRAD_SKIP_BROWSER === '1';

describe.skipIf(skip)('core suite in headless Chromium', () => {
  it('has a Chromium to drive', () => {
    expect(findChromium(), chromiumMissingMessage()).toBeTruthy();
  });

  it('runs the WebGPU smoke check and every core case on cpu and webgpu', { timeout: 240_000 }, async () => {
    const { report, console: lines } = await runBrowserSuite({ timeoutMs: 200_000 });
    const context = lines.length ? `\nconsole:\n${lines.slice(-40).join('\n')}` : '';
    expect(report.fatal, `page failed outside any case: ${report.fatal}${context}`).toBeUndefined();
    expect(report.smokeError, `WebGPU smoke check failed in Chromium: ${report.smokeError}${context}`).toBeUndefined();
    // Both backends must have run cases; an empty run is a failure, not a pass.
    for (const b of ['cpu', 'webgpu']) {
      expect(report.results.filter((r) => r.backend === b).length, `no core cases ran on ${b} in Chromium`).toBeGreaterThan(0);
    }
    const failures = formatFailures(report.results);
    expect(failures, `failing core cases in Chromium:\n${failures}`).toBe('');
    console.log(`chromium adapter: ${report.smoke?.adapter}; ${report.results.length} case runs passed`);
  });
});
