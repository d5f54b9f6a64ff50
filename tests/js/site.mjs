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

/** Serves pages/, the installed package and the Vite build on loopback; resolves with the server. */
export async function serveTestPages() {
  const site = http.createServer(async (req, res) => {
    const file = fileFor(normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
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
