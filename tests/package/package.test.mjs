// The packed tarball (installed by tests/package/run.sh) as users get it: the
// same app bundled by webpack 5, esbuild and Rollup, each registering a
// conversion in Chromium against the real usage server; and the package from
// Node ESM and CommonJS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import webpack from 'webpack';
import { chromium } from 'playwright-core';
import { startUsageServer } from '../support/usage-server.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const dist = join(here, 'dist');
const serverBin = process.env.USAGE_SERVER_BIN ?? join(root, 'target', 'debug', 'usage-server');
/** The .wasm esbuild and Rollup leave to the app to place beside its bundle (README, "Bundlers"). */
const wasm = join(here, 'node_modules', 'usage-telemetry', 'web', 'usage_telemetry_bg.wasm');

let server;
let key;
let site;
let browser;

/** `usage-server serve` on a fresh SQLite database, with a licence made by its CLI. */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'usage-package-'));
  const database = `sqlite://${join(dir, 'usage.db')}`;
  const env = { ...process.env, USAGE_DATABASE_URL: database };
  key = JSON.parse(execFileSync(serverBin, ['keys', 'create', '--name', 'package-tests'], { env, encoding: 'utf8' }));
  return startUsageServer(serverBin, [], env);
}

async function developmentCount() {
  const response = await fetch(`${server.url}/api/track/get-usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey: key.secretKey, since: null }),
  });
  return (await response.json()).webcodecConversions;
}

/** Each bundler's build of app/ into dist/NAME/, with the page. */
const builds = {
  async webpack(out) {
    // webpack 5 turns `new URL('…wasm', import.meta.url)` into an emitted asset by itself.
    const compiler = webpack({
      mode: 'production',
      context: here,
      entry: './app/main.js',
      output: { path: out, filename: 'main.js', publicPath: 'auto' },
      target: 'web',
    });
    const stats = await new Promise((resolve, reject) => compiler.run((error, result) => (error ? reject(error) : resolve(result))));
    await new Promise((resolve) => compiler.close(resolve));
    assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  },
  async esbuild(out) {
    await esbuild({ entryPoints: [join(here, 'app', 'main.js')], bundle: true, format: 'esm', minify: true, outfile: join(out, 'main.js'), logLevel: 'warning' });
    copyFileSync(wasm, join(out, 'usage_telemetry_bg.wasm'));
  },
  async rollup(out) {
    const bundle = await rollup({ input: join(here, 'app', 'main.js'), plugins: [nodeResolve({ browser: true })], onwarn: (warning) => { throw new Error(String(warning)); } });
    // The package loads the module's JavaScript on first use: a chunk of its own.
    await bundle.write({ dir: out, entryFileNames: 'main.js', format: 'es' });
    await bundle.close();
    copyFileSync(wasm, join(out, 'usage_telemetry_bg.wasm'));
  },
};

const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

before(async () => {
  server = await startServer();
  rmSync(dist, { recursive: true, force: true });
  for (const [name, build] of Object.entries(builds)) {
    const out = join(dist, name);
    mkdirSync(out, { recursive: true });
    await build(out);
    copyFileSync(join(here, 'app', 'index.html'), join(out, 'index.html'));
  }
  site = http.createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    const file = join(dist, path.endsWith('/') ? `${path}index.html` : path);
    let body;
    try {
      body = readFileSync(file);
    } catch {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-sync',
      '--disable-background-networking', '--disable-component-update'],
  });
});

after(async () => {
  await browser?.close();
  site?.close();
  server?.stop();
});

for (const name of Object.keys(builds)) {
  test(`an app bundled by ${name} registers a conversion`, async () => {
    const before = await developmentCount();
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    const wasmRequests = [];
    page.on('request', (request) => { if (request.url().endsWith('.wasm')) wasmRequests.push(request.url()); });
    await page.goto(`http://127.0.0.1:${site.address().port}/${name}/`);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    await page.waitForLoadState('networkidle');
    assert.deepEqual(wasmRequests, [], 'importing the package loads no .wasm');
    const registered = await page.evaluate(({ licenseKey, endpoint }) =>
      window.app.register({ licenseKey, endpoint, event: 'webcodec-conversion', succeeded: true }),
    { licenseKey: key.publicKey, endpoint: server.url });
    assert.deepEqual(registered, { billable: false, classification: 'development' });
    assert.equal(await page.evaluate(() => window.app.classify('https://shop.example.com')), 'billable');
    assert.equal(wasmRequests.length, 1, `the first call loads the .wasm, once: ${wasmRequests}`);
    const after = await developmentCount();
    assert.equal(after.development, before.development + 1, 'the server counted it');
    assert.deepEqual(errors, []);
    await page.close();
  });
}

for (const [flavour, file] of [['ESM', 'node/esm.mjs'], ['CommonJS', 'node/cjs.cjs']]) {
  test(`Node ${flavour} registers and reads usage`, async () => {
    const before = await developmentCount();
    const output = execFileSync(process.execPath, [join(here, file)], {
      env: { ...process.env, USAGE_SERVER_URL: server.url, PUBLIC_KEY: key.publicKey, SECRET_KEY: key.secretKey },
      encoding: 'utf8',
    });
    const { registered, development } = JSON.parse(output);
    assert.deepEqual(registered, { billable: false, classification: 'development' });
    assert.equal(development, before.development + 1);
  });
}
