// The HTTP server behind `wgrad serve`: a list of route handlers tried in order (the API routes
// others add, a test's asset route), then the web app's static files. It listens on 127.0.0.1 by
// default, which browsers treat as a secure context (WebGPU and the Origin Private File System
// need one), and every response carries a Content-Security-Policy that lets the page reach its own
// origin only: nothing the app does can leave the machine.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { staticFiles } from './static.ts';

/**
 * Handles a request and returns true, or returns false to let the next handler (and finally the
 * static files) try. `url` is the request URL resolved against the server's origin.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface ServeOptions {
  /** The folder of static files (the built app: dist/web). */
  root: string;
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Tried in order before the static files. */
  routes?: RouteHandler[];
}

export interface RunningServer {
  /** http://HOST:PORT/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Same-origin only; blob: for the worker's downloads and the charts' images; inline styles for uPlot. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self' blob:",
  "connect-src 'self' blob: data:",
  "img-src 'self' blob: data:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'",
].join('; ');

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const handlers: RouteHandler[] = [...(opts.routes ?? []), staticFiles(opts.root)];
  const server: Server = createServer((req, res) => {
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`);
    void (async () => {
      for (const h of handlers) if (await h(req, res, url)) return;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${url.pathname}\n`);
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`server error: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${opts.port} on ${host} is in use; pick another with --port`) : e);
    });
    server.listen(opts.port ?? 8080, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
