// The outbox in headless Chromium with one persistent profile (IndexedDB survives
// the page): a registration the server never answered is re-sent by the next view
// and counted once; flush() sends what is pending in one batch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { getUsage } from 'usage-telemetry';
import { serverUrl, scenario, faulty, attempts, freshKeys, bringUp } from './helpers.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
let site;
let context;
let profile;
let origin;

before(async () => {
  site = http.createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = path.startsWith('/node_modules/') ? join(here, path) : join(here, 'pages', path === '/' ? 'index.html' : path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' }[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => site.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${site.address().port}`;
  profile = await mkdtemp(join(tmpdir(), 'usage-telemetry-profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-sync'],
  });
});

after(async () => {
  await context?.close();
  site?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function openPage() {
  const page = await context.newPage();
  await page.goto(origin);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 15_000 });
  return page;
}

/** This month's development conversions of a key (a local page counts as development). */
async function developmentCount(keys) {
  return (await getUsage({ apiKey: keys.secretKey, endpoint: serverUrl })).webcodecConversions.development;
}

/** Waits (bounded) until the key counts `expected` development conversions. */
async function countReaches(keys, expected) {
  for (let i = 0; i < 200; i++) {
    if ((await developmentCount(keys)) >= expected) return developmentCount(keys);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return developmentCount(keys);
}

/** Reports a conversion while the server is down; resolves when its only attempt failed. */
function convertWhileDown(page, licenseKey, endpoint) {
  return page.evaluate(({ licenseKey, endpoint }) => new Promise((resolve) => {
    window.telemetry.trackConversion(async () => 'converted', {
      licenseKey, endpoint, retry: { retries: 0 }, onRegistered: (outcome) => resolve(outcome.ok),
    });
  }), { licenseKey, endpoint });
}

test('a conversion reported while the server is down is counted once by a later view', async () => {
  const keys = await freshKeys('outbox-later-view');
  const name = scenario();
  const page = await openPage();
  assert.equal(await convertWhileDown(page, keys.publicKey, faulty(name, 'down')), false, 'the server is down');
  await page.close({ runBeforeUnload: true });
  const refused = await attempts(name);
  assert.ok(refused.length >= 1);
  assert.equal(await developmentCount(keys), 0);

  await bringUp(name);
  const again = await openPage();
  assert.equal(await countReaches(keys, 1), 1, 'the next view re-sent it');
  await again.reload();
  await again.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  assert.deepEqual(await again.evaluate(() => window.telemetry.flush()), { sent: 0, pending: 0 }, 'nothing left');
  assert.equal(await developmentCount(keys), 1, 'still once after another reload');
  const sent = await attempts(name);
  assert.equal(new Set(sent.map((a) => a.body.eventId)).size, 1, 'every attempt carried the same eventId');
  await again.close();
});

test('flush() sends what is pending in one batch', async () => {
  const keys = await freshKeys('outbox-flush');
  const name = scenario();
  const page = await openPage();
  for (let i = 0; i < 3; i++) assert.equal(await convertWhileDown(page, keys.publicKey, faulty(name, 'down')), false);
  await bringUp(name);
  assert.deepEqual(await page.evaluate(() => window.telemetry.flush()), { sent: 3, pending: 0 });
  assert.equal(await developmentCount(keys), 3);
  const batch = (await attempts(name)).at(-1).body;
  assert.ok(Array.isArray(batch) && batch.length === 3, 'the three went in one request');
  assert.deepEqual(await page.evaluate(() => window.telemetry.flush()), { sent: 0, pending: 0 });
  await page.close();
});

test('two tabs starting together re-send what is left, counted once', async () => {
  const keys = await freshKeys('outbox-two-tabs');
  const name = scenario();
  const page = await openPage();
  assert.equal(await convertWhileDown(page, keys.publicKey, faulty(name, 'down')), false);
  await page.close();
  await bringUp(name);
  const tabs = await Promise.all([openPage(), openPage()]);
  assert.equal(await countReaches(keys, 1), 1);
  const flushed = await Promise.all(tabs.map((tab) => tab.evaluate(() => window.telemetry.flush())));
  assert.ok(flushed.every(({ pending }) => pending === 0), JSON.stringify(flushed));
  assert.equal(await developmentCount(keys), 1, 'once, whichever tab sent it');
  await Promise.all(tabs.map((tab) => tab.close()));
});

test('a page closed the instant the conversion resolves still registers it', async () => {
  const keys = await freshKeys('outbox-instant-close');
  const page = await openPage();
  assert.equal(await page.evaluate(({ licenseKey, endpoint }) =>
    window.telemetry.trackConversion(async () => 'converted', { licenseKey, endpoint }), { licenseKey: keys.publicKey, endpoint: serverUrl }), 'converted');
  await page.close();
  assert.equal(await countReaches(keys, 1), 1);
});

test('a burst of 1,000 conversions is counted once each, in batches', async () => {
  const keys = await freshKeys('outbox-burst');
  const page = await openPage();
  const sent = [];
  page.on('request', (request) => { if (request.url().startsWith(serverUrl)) sent.push(request.url()); });
  const outcomes = await page.evaluate(({ licenseKey, endpoint }) => new Promise((resolve) => {
    const results = [];
    for (let i = 0; i < 1000; i++) {
      window.telemetry.trackConversion(async () => i, {
        licenseKey, endpoint, onRegistered: (outcome) => {
          results.push(outcome.ok ? 'ok' : outcome.error.message);
          if (results.length === 1000) resolve(results);
        },
      });
    }
  }), { licenseKey: keys.publicKey, endpoint: serverUrl });
  assert.deepEqual(outcomes.filter((o) => o !== 'ok'), []);
  assert.equal(await developmentCount(keys), 1000);
  assert.ok(sent.length <= 20, `${sent.length} requests for 1,000 registrations`);
  assert.ok(sent.some((url) => url.endsWith('/api/track/register-usage-points')));
  await page.close();
});
