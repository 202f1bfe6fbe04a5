// Static files under one folder, as a route handler: GET and HEAD, "/" and folders serve their
// index.html, nothing outside the folder is reachable (.. and symlinks resolved first).
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { RouteHandler } from './server.ts';

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.jsonl': 'application/x-ndjson',
  '.wasm': 'application/wasm',
};

/** The file a URL path names under root, or null when it names nothing there (or leaves root). */
export async function resolveUnder(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try { decoded = decodeURIComponent(urlPath); } catch { return null; }
  if (decoded.includes('\0')) return null;
  const base = await realpath(root);
  let p = resolve(base, `.${decoded}`);
  try {
    p = await realpath(p);
    if ((await stat(p)).isDirectory()) p = await realpath(join(p, 'index.html'));
  } catch {
    return null;
  }
  if (p !== base && !p.startsWith(base + sep)) return null;
  return (await stat(p)).isFile() ? p : null;
}

/** Serves the files under root; answers false (not handled) for anything else. */
export function staticFiles(root: string, opts: { prefix?: string } = {}): RouteHandler {
  const prefix = opts.prefix ?? '/';
  return async (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (!url.pathname.startsWith(prefix)) return false;
    const file = await resolveUnder(root, `/${url.pathname.slice(prefix.length)}`);
    if (!file) return false;
    const size = (await stat(file)).size;
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-cache',
    });
    if (req.method === 'HEAD') { res.end(); return true; }
    await new Promise<void>((done, fail) => createReadStream(file).on('error', fail).on('end', done).pipe(res));
    return true;
  };
}
