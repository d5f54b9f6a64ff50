// The static site the browser tests and the module's benchmark load pages from,
// and how Chromium is started. No environment needed (helpers.mjs re-exports it).
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };

/** Which file a URL path names: the Vite build, the installed package, or pages/. */
function fileFor(path) {
  if (path.startsWith('/vite/')) return join(here, 'vite-app', 'dist', path === '/vite/' ? 'index.html' : path.slice('/vite/'.length));
  if (path.startsWith('/node_modules/')) return join(here, path);
  return join(here, 'pages', path === '/' ? 'index.html' : path);
}

/**
 * csp.html's policy, as a strict site sends it: scripts from its own origin only,
 * no inline script, no eval; WebAssembly only with `?wasm` ('wasm-unsafe-eval');
 * requests to its own origin (the .wasm) and to the `?endpoint=` origin.
 */
export function strictPolicy(url) {
  const wasm = url.searchParams.has('wasm') ? " 'wasm-unsafe-eval'" : '';
  const endpoint = url.searchParams.get('endpoint');
  return [
    "default-src 'none'",
    `script-src 'self'${wasm}`,
    `connect-src 'self'${endpoint ? ` ${new URL(endpoint).origin}` : ''}`,
    "base-uri 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ');
}

/** Serves pages/, the installed package and the Vite build on loopback; resolves with the server. */
export async function serveTestPages() {
  const site = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = fileFor(normalize(decodeURIComponent(url.pathname)));
    try {
      const body = await readFile(file);
      const headers = { 'content-type': types[extname(file)] ?? 'application/octet-stream' };
      if (url.pathname === '/csp.html') headers['content-security-policy'] = strictPolicy(url);
      res.writeHead(200, headers);
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  return site;
}

/** Debian's Chromium, headless, as root. */
export const chromiumOptions = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-sync'],
};
