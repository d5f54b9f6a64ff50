// The npm package in headless Chromium (Debian's, driven by playwright-core): a
// plain module page and a module Worker, on a local origin and on a production-like
// one (shop.example.com, mapped to loopback by the browser's resolver).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { getUsageBreakdown } from 'usage-telemetry';
import {
  serverUrl, publicKey, secretKey, adminToken, scenario, faulty, attempts, attemptsEventually, serveTestPages, chromiumOptions,
} from './helpers.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
let site;
let browser;
let port;

before(async () => {
  // A real Vite production build of an app that imports the package by name.
  await build({
    root: join(here, 'vite-app'),
    base: '/vite/',
    logLevel: 'warn',
    build: { outDir: join(here, 'vite-app', 'dist'), emptyOutDir: true, target: 'es2022' },
  });
  site = await serveTestPages();
  port = site.address().port;
  browser = await chromium.launch({
    ...chromiumOptions,
    args: [
      ...chromiumOptions.args, '--disable-background-networking', '--disable-component-update',
      '--host-resolver-rules=MAP shop.example.com 127.0.0.1',
    ],
  });
});

after(async () => {
  await browser?.close();
  site?.close();
});

/** A fresh page on `host` (at `path`), with the package loaded. */
async function openPage(host, path = '/') {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`http://${host}:${port}${path}`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached', timeout: 15_000 });
  return { page, errors };
}

test('a local page registers as development and can read usage', async () => {
  const { page, errors } = await openPage('127.0.0.1');
  const registered = await page.evaluate(({ licenseKey, endpoint }) =>
    window.telemetry.registerUsageEvent({ licenseKey, endpoint, event: 'webcodec-conversion', succeeded: true }),
  { licenseKey: publicKey, endpoint: serverUrl });
  assert.deepEqual(registered, { billable: false, classification: 'development' });
  assert.equal(await page.evaluate(() => window.telemetry.classifyHost(location.origin)), 'development');
  // A local page may read usage with the secret key (development).
  const usage = await page.evaluate(({ apiKey, endpoint }) => window.telemetry.getUsage({ apiKey, endpoint }), { apiKey: secretKey, endpoint: serverUrl });
  assert.ok(usage.webcodecConversions.development >= 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a production origin is billed even when it claims localhost', async () => {
  const { page } = await openPage('shop.example.com');
  const registered = await page.evaluate(({ licenseKey, endpoint }) =>
    window.telemetry.registerUsageEvent({ licenseKey, endpoint, event: 'webcodec-conversion', host: 'http://localhost:3000', succeeded: true }),
  { licenseKey: publicKey, endpoint: serverUrl });
  assert.deepEqual(registered, { billable: true, classification: 'billable' });
  assert.equal(await page.evaluate(() => window.telemetry.classifyHost(location.origin)), 'billable');
  await page.close();
});

test('a page without a licence key registers as unlicensed with its own origin; free-license passes', async () => {
  const { page, errors } = await openPage('shop.example.com');
  const warnings = [];
  page.on('console', (message) => { if (message.type() === 'warning') warnings.push(message.text()); });
  const name = scenario();
  const registered = await page.evaluate(({ endpoint }) =>
    window.telemetry.registerUsageEvent({ endpoint, event: 'webcodec-conversion', succeeded: true }),
  { endpoint: faulty(name, 'ok') });
  assert.deepEqual(registered, { billable: true, classification: 'billable' });
  const [sent] = await attempts(name);
  assert.deepEqual({ apiKey: sent.body.apiKey, host: sent.body.host }, { apiKey: null, host: `http://shop.example.com:${port}` });
  const view = await getUsageBreakdown({ apiKey: adminToken, endpoint: serverUrl });
  assert.ok(view.unlicensed.origins.some((o) => o.origin === `http://shop.example.com:${port}` && o.billable >= 1), JSON.stringify(view.unlicensed));
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /no licence key is configured/);

  const free = scenario();
  const registeredFree = await page.evaluate(({ endpoint }) =>
    window.telemetry.registerUsageEvent({ licenseKey: 'free-license', endpoint, event: 'webcodec-conversion', succeeded: true }),
  { endpoint: faulty(free, 'ok') });
  assert.equal(registeredFree.classification, 'billable');
  assert.equal((await attempts(free))[0].body.apiKey, 'free-license');
  const after = await getUsageBreakdown({ apiKey: adminToken, endpoint: serverUrl });
  assert.ok(after.freeLicense.origins.some((o) => o.origin === `http://shop.example.com:${port}`));
  assert.equal(warnings.length, 1, 'one warning per page');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a public page refuses to send the secret key unless told to', async () => {
  const { page } = await openPage('shop.example.com');
  const name = scenario();
  const refused = await page.evaluate(({ apiKey, endpoint }) =>
    window.telemetry.getUsage({ apiKey, endpoint }).then(() => 'sent', (error) => ({ name: error.name, code: error.code, message: error.message })),
  { apiKey: secretKey, endpoint: faulty(name, 'ok') });
  assert.equal(refused.code, 'secret_key_in_browser');
  assert.match(refused.message, /refusing to send a secret key from the browser page http:\/\/shop\.example\.com:\d+/);
  assert.equal((await attempts(name)).length, 0, 'nothing left the page');
  const usage = await page.evaluate(({ apiKey, endpoint }) => window.telemetry.getUsage({ apiKey, endpoint, dangerouslyAllowBrowser: true }),
    { apiKey: secretKey, endpoint: faulty(name, 'ok') });
  assert.equal(typeof usage.cloudRenders.billable, 'number');
  assert.equal((await attempts(name)).length, 1);
  await page.close();
});

test('the request leaves without cookies, credentials or a preflight', async () => {
  const { page } = await openPage('shop.example.com');
  const requests = [];
  page.on('request', (request) => requests.push(request));
  const name = scenario();
  await page.evaluate(({ licenseKey, endpoint }) =>
    window.telemetry.registerUsageEvent({ licenseKey, endpoint, event: 'web-render', succeeded: true, eventId: '0f8b3c1e-5a4d-4e2b-9c7f-1a2b3c4d5e6f' }),
  { licenseKey: publicKey, endpoint: faulty(name, 'ok') });
  const sent = requests.filter((r) => r.url().includes(name));
  assert.equal(sent.length, 1, 'one request, no OPTIONS preflight');
  assert.equal(sent[0].method(), 'POST');
  const headers = await sent[0].allHeaders();
  assert.equal(headers.cookie, undefined);
  assert.equal(headers['content-type'], 'text/plain;charset=UTF-8');
  assert.deepEqual(JSON.parse(sent[0].postData()), {
    event: 'web-render', apiKey: publicKey, host: `http://shop.example.com:${port}`, succeeded: true, eventId: '0f8b3c1e-5a4d-4e2b-9c7f-1a2b3c4d5e6f',
  });
  await page.close();
});

test('a blocked fetch leaves one console warning in the page and nothing else', async () => {
  const { page, errors } = await openPage('127.0.0.1');
  const warnings = [];
  page.on('console', (message) => { if (message.type() === 'warning') warnings.push(message.text()); });
  const warned = page.waitForEvent('console', (message) => message.type() === 'warning');
  const result = await page.evaluate(({ licenseKey, endpoint }) => {
    window.fetch = () => { throw new TypeError('Failed to fetch (blocked by an extension)'); };
    return window.telemetry.trackConversion(async () => 'converted.webm', { licenseKey, endpoint, retry: { retries: 1, baseDelayMs: 1 } });
  }, { licenseKey: publicKey, endpoint: serverUrl });
  assert.equal(result, 'converted.webm');
  await warned;
  // One more macrotask in the page for any stray rejection to surface.
  assert.deepEqual(await page.evaluate(() => new Promise((resolve) => setTimeout(() => resolve(window.unhandledRejections), 0))), []);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /blocked by an extension/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a module Worker registers with its own origin', async () => {
  for (const [host, classification] of [['127.0.0.1', 'development'], ['shop.example.com', 'billable']]) {
    const { page } = await openPage(host);
    const name = scenario();
    const reply = await page.evaluate(({ licenseKey, endpoint, trackEndpoint }) => new Promise((resolve) => {
      const worker = new Worker('/worker.mjs', { type: 'module' });
      worker.onmessage = ({ data }) => resolve(data);
      worker.onerror = (event) => resolve({ error: event.message });
      worker.postMessage({ licenseKey, endpoint, trackEndpoint });
    }), { licenseKey: publicKey, endpoint: serverUrl, trackEndpoint: faulty(name, 'ok') });
    assert.equal(reply.error, undefined, reply.error);
    assert.equal(reply.registered.classification, classification, host);
    assert.equal(reply.converted, 'frames');
    const [tracked] = await attemptsEventually(name, 1);
    assert.equal(tracked.body.host, reply.origin, 'the worker reports self.location.origin');
    assert.equal(tracked.body.succeeded, true);
    await page.close();
  }
});

test('a Vite app bundles the package and registers', async () => {
  const { page, errors } = await openPage('shop.example.com', '/vite/');
  const registered = await page.evaluate(({ licenseKey, endpoint }) =>
    window.viteApp.register({ licenseKey, endpoint, event: 'web-render', succeeded: true }),
  { licenseKey: publicKey, endpoint: serverUrl });
  assert.deepEqual(registered, { billable: true, classification: 'billable' });
  const name = scenario();
  assert.equal(await page.evaluate(({ endpoint, licenseKey }) => window.viteApp.track(endpoint, licenseKey), { endpoint: faulty(name, 'ok'), licenseKey: publicKey }), 'bundled');
  const [tracked] = await attemptsEventually(name, 1);
  assert.equal(tracked.body.host, `http://shop.example.com:${port}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('without init(): a page configures, tracks and registers; a worker registers', async () => {
  const { page, errors } = await openPage('127.0.0.1', '/?no-init');
  const name = scenario();
  const result = await page.evaluate(({ licenseKey, endpoint }) => {
    // configure() before the module loaded is applied when it has.
    window.telemetry.configure({ licenseKey, endpoint });
    return new Promise((resolve) => {
      const converted = window.telemetry.trackConversion(async () => 'converted', { onRegistered: (outcome) => resolve({ converted, outcome }) });
    }).then(async ({ converted, outcome }) => ({ converted: await converted, ok: outcome.ok, classification: outcome.classification }));
  }, { licenseKey: publicKey, endpoint: faulty(name, 'ok') });
  assert.deepEqual(result, { converted: 'converted', ok: true, classification: 'development' });
  const [sent] = await attempts(name);
  assert.equal(sent.body.apiKey, publicKey, 'the early configure() applied');
  assert.equal(await page.evaluate(() => window.telemetry.classifyHost('https://customer.com')), 'billable');
  const registered = await page.evaluate(({ licenseKey, endpoint }) =>
    window.telemetry.registerUsageEvent({ licenseKey, endpoint, event: 'webcodec-conversion', succeeded: true }),
  { licenseKey: publicKey, endpoint: serverUrl });
  assert.equal(registered.classification, 'development');
  const reply = await page.evaluate(({ licenseKey, endpoint }) => new Promise((resolve) => {
    const worker = new Worker('/no-init-worker.mjs', { type: 'module' });
    worker.onmessage = ({ data }) => resolve(data);
    worker.onerror = (event) => resolve({ error: event.message });
    worker.postMessage({ licenseKey, endpoint });
  }), { licenseKey: publicKey, endpoint: serverUrl });
  assert.equal(reply.error, undefined, reply.error);
  assert.equal(reply.registered.classification, 'development');
  assert.deepEqual(await page.evaluate(() => window.unhandledRejections), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('importing and configuring load nothing more; the first conversion loads the module', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  const requests = [];
  page.on('request', (request) => requests.push(new URL(request.url()).pathname));
  const name = scenario();
  const query = new URLSearchParams({ endpoint: faulty(name, 'ok'), key: publicKey });
  await page.goto(`http://shop.example.com:${port}/load-package.html?${query}`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  await page.waitForLoadState('networkidle');
  const module = (path) => path.includes('usage_telemetry');
  assert.deepEqual(requests.filter(module), [], "neither the module's JavaScript nor its .wasm before a conversion");
  const converted = await page.evaluate(() => new Promise((resolve) => {
    const result = window.telemetry.trackConversion(async () => 'converted', {
      onRegistered: (outcome) => resolve(result.then((value) => ({ value, ok: outcome.ok }))),
    });
  }));
  assert.deepEqual(converted, { value: 'converted', ok: true });
  assert.deepEqual(requests.filter(module).map((path) => path.split('/').pop()), ['usage_telemetry.js', 'usage_telemetry_bg.wasm']);
  const [sent] = await attempts(name);
  assert.equal(sent.body.apiKey, publicKey, 'the configure() made at start applied');
  assert.deepEqual(errors, []);
  await page.close();
});

test('classifyHost says so when the module has not loaded yet', async () => {
  const { page } = await openPage('127.0.0.1', '/?no-init');
  const message = await page.evaluate(() => { try { return window.telemetry.classifyHost('https://a.com'); } catch (error) { return error.message; } });
  assert.match(message, /classifyHost\(\) needs the module loaded: await init\(\)/);
  await page.close();
});

test("where the .wasm cannot download, the stand-in delivers as the module does and keeps its rules", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  const warnings = [];
  page.on('console', (message) => { if (message.type() === 'warning') warnings.push(message.text()); });
  await page.route('**/usage_telemetry_bg.wasm', (route) => route.abort('connectionfailed'));
  await page.goto(`http://shop.example.com:${port}/?no-init`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  const call = (options) => page.evaluate((options) => window.telemetry.registerUsageEvent(options).then(
    (value) => ({ value }),
    (error) => ({ error: { name: error.name, code: error.code, status: error.status, message: error.message } }),
  ), options);
  const event = { licenseKey: publicKey, event: 'webcodec-conversion', succeeded: true, retry: { baseDelayMs: 10 } };

  // A lost answer is re-sent with the same eventId and counted once, as the
  // module sends it: a POST of text/plain, no preflight, no cookie.
  const requests = [];
  page.on('request', (request) => requests.push(request));
  const lost = scenario();
  assert.deepEqual(await call({ ...event, endpoint: faulty(lost, 'lose-first') }), { value: { billable: true, classification: 'billable' } });
  const [first, again] = await attempts(lost);
  assert.equal(first.body.eventId, again.body.eventId);
  const sentByPage = requests.filter((request) => request.url().includes(lost));
  assert.deepEqual(sentByPage.map((request) => request.method()), ['POST', 'POST']);
  const headers = await sentByPage[0].allHeaders();
  assert.deepEqual([headers['content-type'], headers.cookie], ['text/plain;charset=UTF-8', undefined]);
  const origins = (await getUsageBreakdown({ apiKey: secretKey, endpoint: serverUrl })).origins;
  assert.ok(origins.some((o) => o.origin === `http://shop.example.com:${port}`), 'counted with the page origin');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /the WebAssembly module did not load \(TypeError: Failed to fetch\).*'wasm-unsafe-eval'/);

  // 429 waits for Retry-After (1 s); a refusal is not retried; a page that is not JSON says so.
  const limited = scenario();
  assert.equal((await call({ ...event, endpoint: faulty(limited, '429-first') })).value.classification, 'billable');
  const [refused, accepted] = await attempts(limited);
  assert.ok(accepted.at - refused.at >= 900, `waited ${accepted.at - refused.at} ms for Retry-After: 1`);
  const unauthorized = scenario();
  const denied = await call({ ...event, endpoint: faulty(unauthorized, 'status-401') });
  assert.deepEqual([denied.error.code, denied.error.status, (await attempts(unauthorized)).length], ['server', 401, 1]);
  assert.equal((await call({ ...event, endpoint: faulty(scenario(), 'not-json') })).error.code, 'not_json');

  // Nothing leaves the page for an invalid call or a secret key; errors name the field.
  const guarded = scenario();
  const invalid = async (options, pattern) => {
    const { error } = await call({ ...event, endpoint: faulty(guarded, 'ok'), ...options });
    assert.equal(error?.name, 'UsageTelemetryError');
    assert.equal(error.code, 'invalid');
    assert.match(error.message, pattern);
  };
  await invalid({ licenseKey: secretKey }, /^licenseKey: must be a public key/);
  await invalid({ licenseKey: undefined, apiKey: adminToken }, /^apiKey: must be a public key/);
  await invalid({ succeeded: 'yes' }, /^succeeded: must be true or false/);
  await invalid({ event: 'render' }, /^event: must be one of webcodec-conversion, cloud-render, web-render/);
  await invalid({ endpoint: 'licensing.example.com' }, /^endpoint: must be an http\(s\) URL/);
  await invalid({ retry: { timeoutMs: 0 } }, /^retry\.timeoutMs: must be from 1 to 120000 \(got 0\)$/);
  assert.equal((await attempts(guarded)).length, 0);
  const configured = await page.evaluate(() => {
    try {
      window.telemetry.configure({ licenseKey: 'rm_sec_x' });
      return 'accepted';
    } catch (error) {
      return error.message;
    }
  });
  assert.match(configured, /^licenseKey: must be a public key/);

  // Conversions: a failed one registers succeeded: false; a cancelled one nothing.
  const tracked = scenario();
  const outcomes = await page.evaluate(({ licenseKey, endpoint }) => {
    window.telemetry.configure({ licenseKey, endpoint });
    const cancelled = new DOMException('the user cancelled', 'AbortError');
    window.telemetry.trackConversion(() => Promise.reject(cancelled), { onRegistered: () => { window.registeredCancelled = true; } });
    return new Promise((resolve) => {
      const failed = window.telemetry.trackConversion(async () => { throw new Error('decoder error'); }, {
        onRegistered: (outcome) => failed.catch((error) => resolve({ error: error.message, ok: outcome.ok, classification: outcome.classification })),
      });
    });
  }, { licenseKey: publicKey, endpoint: faulty(tracked, 'ok') });
  assert.deepEqual(outcomes, { error: 'decoder error', ok: true, classification: 'failed' });
  const sent = await attempts(tracked);
  assert.deepEqual(sent.map((attempt) => attempt.body.succeeded), [false], 'only the failed conversion');
  assert.equal(await page.evaluate(() => window.registeredCancelled ?? false), false);

  // What needs the module says so; nothing is queued.
  const unavailable = await page.evaluate(({ apiKey }) =>
    window.telemetry.getUsage({ apiKey }).catch((error) => `${error.code}: ${error.message}`), { apiKey: secretKey });
  assert.match(unavailable, /^unavailable: getUsage\(\) needs the WebAssembly module, which did not load/);
  assert.deepEqual(await page.evaluate(() => window.telemetry.flush()), { sent: 0, pending: 0 });
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.deepEqual(await page.evaluate(() => window.unhandledRejections), []);
  assert.deepEqual(errors, []);
  await page.close();
});
