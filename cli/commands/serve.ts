// wgrad serve: the web app (dist/web, built by `npm run build`) on http://127.0.0.1:PORT/, until
// Ctrl-C. The server (cli/server/) tries its route handlers before the static files, so other
// routes (an API) can be added to SERVE_ROUTES without touching it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log, number, UsageError, type CommandSpec } from '../args.ts';
import { apiRoutes, serveApiFlags } from '../serve-api.ts';
import { startServer, type RouteHandler } from '../server/server.ts';

/** Route handlers `wgrad serve` tries, in order, before the app's static files. */
export const SERVE_ROUTES: RouteHandler[] = [];

const port = number('a port number (0-65535; 0 picks a free one)', (n) => Number.isInteger(n) && n >= 0 && n <= 65535);

/** dist/web beside dist/cli.js (the built command), or the repository's dist/web (from source). */
function appFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, 'web'), join(here, '..', '..', 'dist', 'web')]) if (existsSync(join(p, 'index.html'))) return p;
  throw new UsageError('the web app is not built (no dist/web/index.html): run `npm run build` first, or pass --root DIR');
}

export const serveSpec: CommandSpec = {
  name: 'serve',
  summary: 'serve the web app (train in a browser tab) on http://127.0.0.1:PORT/',
  description: 'Serve the web app: open the printed URL in a browser with WebGPU. It listens on 127.0.0.1 unless --host says otherwise; the page loads nothing from other origins.',
  flags: [
    { flags: '--port <n>', help: 'port to listen on (default 8080; 0 picks a free one)', parse: port, default: 8080 },
    { flags: '--host <address>', help: 'address to listen on (default 127.0.0.1; browsers need localhost or https for WebGPU)', default: '127.0.0.1' },
    { flags: '--root <dir>', help: 'serve this folder instead of the built app (dist/web)' },
    ...serveApiFlags,
  ],
  run: async (opts) => {
    const root = (opts.root as string | undefined) ?? appFolder();
    if (!existsSync(root)) throw new UsageError(`--root ${root} does not exist`);
    const server = await startServer({ root, host: opts.host as string, port: opts.port as number, routes: [...(await apiRoutes(opts)), ...SERVE_ROUTES] });
    log(`wgrad: serving ${root} at ${server.url} (Ctrl-C stops)`);
    console.log(server.url);
    await new Promise<void>((resolve) => {
      const stop = () => { void server.close().then(resolve); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
