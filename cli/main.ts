// The `wgrad` executable (built to dist/cli.js).
import { main } from './program.ts';

process.exitCode = await main(process.argv.slice(2));
