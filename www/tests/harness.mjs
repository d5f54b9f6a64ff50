// The demo's test harness: a fresh usage server (the real binary, SQLite in a
// temporary directory) serving the built pages with `--static`, keys made with its
// CLI, Debian's Chromium through playwright-core, and reading results back.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ALL_FORMATS, BufferSource, Input } from 'mediabunny';
import { startUsageServer } from '../../tests/support/usage-server.mjs';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const dist = join(root, 'www', 'dist');
const serverBin = process.env.USAGE_SERVER_BIN ?? join(root, 'target', 'debug', 'usage-server');
export const outputDir = join(root, 'test-output');

/** Runs the server's CLI against `database` and parses its JSON line. */
function cli(database, args) {
  const stdout = execFileSync(serverBin, args, { env: { ...process.env, USAGE_DATABASE_URL: database }, encoding: 'utf8' });
  return JSON.parse(stdout.trim());
}

/** Starts `usage-server serve --static www/dist` on a free loopback port. */
export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'usage-demo-'));
  const database = `sqlite://${join(dir, 'usage.db')}`;
  const key = cli(database, ['keys', 'create', '--name', 'demo-tests', '--monthly-limit', '1000']);
  const admin = cli(database, ['admin', 'create-token', '--name', 'demo-tests']);
  writeFileSync(join(dist, 'demo-config.json'), JSON.stringify({ publicKey: key.publicKey }));
  // A cap of 3 new origins per account and day: the tests use at most two per
  // account, and the vendor's test floods past it to see the folded row.
  const { url, stop } = await startUsageServer(serverBin, ['--database', database, '--static', dist, '--max-new-origins-per-day', '3']);
  const port = new URL(url).port;
  return {
    url,
    port,
    key,
    adminToken: admin.token,
    /** get-usage with the secret key (this month). */
    async usage() {
      const response = await fetch(`${url}/api/track/get-usage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: key.secretKey, since: null }),
      });
      if (!response.ok) throw new Error(`get-usage answered ${response.status}: ${await response.text()}`);
      return response.json();
    },
    /** `keys create --name NAME …args` on this server's database; the printed key pair. */
    createKey(name, args = []) {
      return cli(database, ['keys', 'create', '--name', name, ...args]);
    },
    /** One registration sent as a browser on `origin` would send it; the answer. */
    async register(body, origin) {
      const response = await fetch(`${url}/api/track/register-usage-point`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify(body),
      });
      return response.json();
    },
    /** `admin create-token` on this server's database (`--read-only` if asked); the token. */
    createAdminToken(name, { readOnly = false } = {}) {
      return cli(database, ['admin', 'create-token', '--name', name, ...(readOnly ? ['--read-only'] : [])]).token;
    },
    /** An admin route with the full admin token (or `token`); the status and the JSON answer. */
    async api(method, path, body, token = admin.token) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: response.status, body: await response.json() };
    },
    /** The vendor's view. */
    async adminView() {
      const response = await fetch(`${url}/api/admin/usage`, { headers: { authorization: `Bearer ${admin.token}` } });
      return response.json();
    },
    stop,
  };
}

/**
 * Chromium with `shop.example.com` resolving to loopback: a production-like origin.
 * WebCodecs needs a secure context, which a real shop has through https; here its
 * plain-http origin on `port` is declared secure instead.
 */
export async function launchBrowser(port) {
  mkdirSync(outputDir, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync',
      '--host-resolver-rules=MAP shop.example.com 127.0.0.1',
      `--unsafely-treat-insecure-origin-as-secure=http://shop.example.com:${port}`,
    ],
  });
}

/** A page at `url`, failing the test on any uncaught page error. */
export async function openPage(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1300 }, acceptDownloads: true });
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url);
  return { page, errors };
}

export const byTestId = (id) => `[data-testid="${id}"]`;

/** Starts a conversion with the current choices and waits for it to end one way or another. */
export async function convert(page) {
  await page.waitForSelector(`${byTestId('output-format')}:not([disabled])`, { timeout: 30_000 });
  await page.click(byTestId('convert'));
}

/** Waits until the page shows how the conversion was registered; returns the words and the body. */
export async function registration(page) {
  await page.waitForSelector(`${byTestId('telemetry')}:not([hidden])`, { timeout: 60_000 });
  return {
    text: await page.textContent(byTestId('classification')),
    body: JSON.parse(await page.textContent(byTestId('request-body'))),
  };
}

/** Saves the download link's file; returns its bytes. */
export async function downloadOutput(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(byTestId('download'))]);
  return readFileSync(await download.path());
}

/** What Mediabunny (in Node) reads from a file: duration and track codecs. */
export async function probe(bytes) {
  const input = new Input({ source: new BufferSource(bytes), formats: ALL_FORMATS });
  const video = await input.getPrimaryVideoTrack();
  const audio = await input.getPrimaryAudioTrack();
  return { duration: await input.computeDuration(), video: video?.codec ?? null, audio: audio?.codec ?? null, mimeType: await input.getMimeType() };
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(outputDir, `${name}.png`), fullPage: true });
}

/**
 * The server's tests' webhook receiver on loopback: it verifies each message with
 * npm `standardwebhooks` (not our code) once told the secret, and reports every
 * request; `next(predicate)` resolves with the first request that matches.
 */
export async function startWebhookReceiver() {
  const child = spawn(process.execPath, [join(root, 'crates', 'usage-server', 'tests', 'webhook-receiver.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const received = [];
  const waiting = [];
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((resolvePort) => lines.once('line', (line) => resolvePort(JSON.parse(line).port)));
  lines.on('line', (line) => {
    const request = JSON.parse(line);
    received.push(request);
    for (const waiter of waiting.filter((w) => w.predicate(request))) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(request);
    }
  });
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    async setSecret(secret) {
      await fetch(`http://127.0.0.1:${port}/control`, { method: 'PUT', body: JSON.stringify({ secret }) });
    },
    next(predicate) {
      const found = received.find(predicate);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiting.push({ predicate, resolve }));
    },
    stop() {
      child.kill();
    },
  };
}
