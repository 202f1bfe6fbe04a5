// The server behind `wgrad serve`: static files with their types, index.html for folders, nothing
// outside the root (.. or encoded ..), route handlers tried first and in order, a same-origin
// Content-Security-Policy on every answer, and `wgrad serve --port` checked where the user typed it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../cli/server/server.ts';
import { main } from '../../cli/program.ts';

const tmp = mkdtempSync(join(tmpdir(), 'wgrad-serve-'));
let server: RunningServer;
const seen: string[] = [];

beforeAll(async () => {
  const root = join(tmp, 'web');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><p>app</p>');
  writeFileSync(join(root, 'app.js'), 'export {};');
  writeFileSync(join(root, 'sub', 'index.html'), 'sub');
  writeFileSync(join(tmp, 'secret.txt'), 'outside the root');
  server = await startServer({
    root, port: 0,
    routes: [
      (_req, res, url) => { seen.push(`a ${url.pathname}`); if (url.pathname !== '/api/ping') return false; res.end('pong'); return true; },
      async (_req, res, url) => { seen.push(`b ${url.pathname}`); if (url.pathname !== '/app.js') return false; res.end('from a route'); return true; },
    ],
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function get(path: string): Promise<{ status: number; type?: string; csp?: string; body: string }> {
  return new Promise((resolve, reject) => {
    // Raw paths: fetch() would normalise the .. away before sending.
    const req = request({ host: '127.0.0.1', port: server.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], csp: res.headers['content-security-policy'] as string, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('wgrad serve', () => {
  it('serves the files with their types and a same-origin CSP; folders give index.html', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const home = await get('/');
    expect([home.status, home.type, home.body]).toEqual([200, 'text/html; charset=utf-8', '<!doctype html><p>app</p>']);
    expect(home.csp).toContain("default-src 'self'");
    expect(home.csp).toContain("connect-src 'self'");
    expect((await get('/sub/')).body).toBe('sub');
    expect((await get('/missing.js')).status).toBe(404);
  });

  it('refuses paths that leave the root', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt', '/%00']) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toContain('outside');
    }
  });

  it('tries the route handlers first, in order', async () => {
    seen.length = 0;
    expect((await get('/api/ping')).body).toBe('pong');
    expect(seen).toEqual(['a /api/ping']);
    seen.length = 0;
    expect((await get('/app.js')).body).toBe('from a route');
    expect(seen).toEqual(['a /app.js', 'b /app.js']);
  });

  it('checks --port and --root where the user typed them', async () => {
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => { errors.push(a.join(' ')); };
    try {
      expect(await main(['serve', '--port', '70000'])).toBe(2);
      expect(await main(['serve', '--root', join(tmp, 'nope')])).toBe(2);
    } finally {
      console.error = orig;
    }
    expect(errors[0]).toContain('--port expects a port number (0-65535; 0 picks a free one), got "70000"');
    expect(errors[1]).toContain(`--root ${join(tmp, 'nope')} does not exist`);
  });
});
