// The `wgrad` executable (built to dist/cli.js): runs the command in a child whose GPU-runtime
// noise is filtered (cli/quiet.ts), or directly with --verbose.
import { fileURLToPath } from 'node:url';
import { followParent, runQuietly, shouldFilter } from './quiet.ts';

const argv = process.argv.slice(2);
if (shouldFilter(argv)) {
  process.exitCode = await runQuietly(fileURLToPath(import.meta.url), argv);
} else {
  followParent();
  const { main } = await import('./program.ts');
  process.exitCode = await main(argv);
}
