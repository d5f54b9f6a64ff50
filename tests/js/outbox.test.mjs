// The outbox in headless Chromium with one persistent profile (IndexedDB survives
// the page): a registration the server never answered is re-sent by the next view
// and counted once; flush() sends what is pending in one batch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  serverUrl, scenario, faulty, attempts, freshKeys, bringUp, closedUrl, serveTestPages, chromiumOptions, developmentCount, countReaches,
} from './helpers.mjs';

let site;
let context;
let profile;
let origin;

before(async () => {
  site = await serveTestPages();
  origin = `http://127.0.0.1:${site.address().port}`;
  profile = await mkdtemp(join(tmpdir(), 'usage-telemetry-profile-'));
  context = await chromium.launchPersistentContext(profile, chromiumOptions);
});

after(async () => {
  await context?.close();
  site?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

async function openPage(within = context) {
  const page = await within.newPage();
  await page.goto(origin);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 15_000 });
  return page;
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

/** Warnings the page writes to the console, from before it loads. */
function warningsOf(page) {
  const warnings = [];
  page.on('console', (message) => { if (message.type() === 'warning') warnings.push(message.text()); });
  return warnings;
}

test('when IndexedDB fails or is missing, registrations are kept in memory with one warning', async () => {
  const browser = await chromium.launch(chromiumOptions);
  const breakages = {
    failing: () => { IDBFactory.prototype.open = () => { throw new DOMException('The operation failed', 'UnknownError'); }; },
    missing: () => { Object.defineProperty(window, 'indexedDB', { value: undefined }); },
  };
  try {
    for (const [how, breakage] of Object.entries(breakages)) {
      const keys = await freshKeys(`outbox-storage-${how}`);
      const isolated = await browser.newContext();
      await isolated.addInitScript(breakage);
      const page = await isolated.newPage();
      const warnings = warningsOf(page);
      const warned = page.waitForEvent('console', (message) => message.type() === 'warning');
      await page.goto(origin);
      await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
      await warned;
      const registered = await page.evaluate(({ licenseKey, endpoint }) =>
        window.telemetry.registerUsageEvent({ licenseKey, endpoint, event: 'webcodec-conversion', succeeded: true }),
      { licenseKey: keys.publicKey, endpoint: serverUrl });
      assert.equal(registered.classification, 'development', how);
      const converted = await page.evaluate(({ licenseKey, endpoint }) =>
        window.telemetry.trackConversion(async () => 'converted', { licenseKey, endpoint }),
      { licenseKey: keys.publicKey, endpoint: serverUrl });
      assert.equal(converted, 'converted', how);
      assert.equal(await countReaches(keys, 2), 2, how);
      assert.equal(warnings.length, 1, `${how}: ${warnings.join('\n')}`);
      assert.match(warnings[0], /kept in memory only/, how);
      await isolated.close();
    }
  } finally {
    await browser.close();
  }
});

test('the queue keeps the newest 500 of the last 30 days and drops the rest with one warning', async () => {
  const browser = await chromium.launch(chromiumOptions);
  try {
    const isolated = await browser.newContext();
    const first = await openPage(isolated);
    const dead = await closedUrl();
    // 505 registrations an earlier view left: 3 older than 30 days, 502 recent.
    await first.evaluate(({ dead }) => new Promise((resolve, reject) => {
      const open = indexedDB.open('usage-telemetry', 1);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const transaction = open.result.transaction('pending', 'readwrite');
        const store = transaction.objectStore('pending');
        const now = Date.now();
        for (let i = 0; i < 505; i++) {
          const eventId = crypto.randomUUID();
          const body = JSON.stringify({ event: 'webcodec-conversion', apiKey: null, host: null, succeeded: true, eventId });
          store.put({ eventId, url: `${dead}/api/track/register-usage-point`, body, queuedAt: i < 3 ? now - 31 * 86_400_000 : now - 10_000 + i });
        }
        transaction.oncomplete = () => { open.result.close(); resolve(); };
        transaction.onerror = () => reject(transaction.error);
      };
    }), { dead });
    const next = await isolated.newPage();
    const warned = next.waitForEvent('console', (message) => message.type() === 'warning');
    await next.goto(origin);
    assert.match((await warned).text(), /5 unsent registrations were dropped \(the queue keeps 500, for 30 days\)/);
    const left = await next.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('usage-telemetry', 1);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const count = open.result.transaction('pending').objectStore('pending').count();
        count.onsuccess = () => resolve(count.result);
      };
    }));
    assert.equal(left, 500);
  } finally {
    await browser.close();
  }
});
