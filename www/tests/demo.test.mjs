// The demo in headless Chromium against the real usage server serving the built
// pages (`usage-server serve --static www/dist`): real conversions with Mediabunny
// in a Worker, registered by usage-telemetry, counted, and shown on the dashboard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  startServer, launchBrowser, openPage, byTestId, convert, registration, downloadOutput, probe, screenshot,
} from './harness.mjs';

const SAMPLE_SECONDS = 4;
let server;
let browser;
/** The MP4 the second test makes; the truncated-file test cuts it. */
let madeMp4;

before(async () => {
  server = await startServer();
  browser = await launchBrowser(server.port);
});

after(async () => {
  await browser?.close();
  server?.stop();
});

const counts = async () => (await server.usage()).webcodecConversions;

test('the built-in sample converts to WebM, downloads, reads back, and counts as development', async () => {
  const before = await counts();
  const { page, errors } = await openPage(browser, `${server.url}/`);
  await page.check(byTestId('sample'));
  await page.selectOption(byTestId('output-format'), 'webm');
  await page.selectOption(byTestId('resize'), '480');
  await convert(page);
  const { text, body } = await registration(page);
  assert.match(text, /^development — 127\.0\.0\.1 is a local host and is not billed/);
  assert.deepEqual({ event: body.event, apiKey: body.apiKey, host: body.host, succeeded: body.succeeded },
    { event: 'webcodec-conversion', apiKey: server.key.publicKey, host: `http://127.0.0.1:${server.port}`, succeeded: true });
  await page.waitForSelector(`${byTestId('result')}:not([hidden])`);
  const output = await probe(await downloadOutput(page));
  assert.ok(Math.abs(output.duration - SAMPLE_SECONDS) <= SAMPLE_SECONDS * 0.1, `duration ${output.duration}`);
  assert.match(output.video, /^vp[89]$/);
  assert.equal(output.audio, 'opus');
  assert.match(await page.textContent(byTestId('stats')), /Speed.*× real time/);
  const after = await counts();
  assert.equal(after.development - before.development, 1);
  assert.equal(after.billable - before.billable, 0);
  await screenshot(page, 'converter-sample-webm');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an MP4 (H.264 + AAC) made in the browser converts back to WebM and counts', async () => {
  const { page, errors } = await openPage(browser, `${server.url}/`);
  // Make the MP4 in the page with Mediabunny: the sample, converted to MP4.
  await page.selectOption(byTestId('output-format'), 'mp4');
  await convert(page);
  await registration(page);
  madeMp4 = await downloadOutput(page);
  const made = await probe(madeMp4);
  assert.deepEqual({ video: made.video, audio: made.audio }, { video: 'avc', audio: 'aac' });
  assert.ok(Math.abs(made.duration - SAMPLE_SECONDS) <= SAMPLE_SECONDS * 0.1, `duration ${made.duration}`);

  const before = await counts();
  const file = join(tmpdir(), `made-${process.pid}.mp4`);
  writeFileSync(file, madeMp4);
  await page.setInputFiles(byTestId('file'), file);
  await page.selectOption(byTestId('output-format'), 'webm');
  await page.evaluate(() => { document.querySelector('[data-testid="telemetry"]').hidden = true; });
  await convert(page);
  const { body } = await registration(page);
  assert.equal(body.succeeded, true);
  const output = await probe(await downloadOutput(page));
  assert.ok(Math.abs(output.duration - made.duration) <= made.duration * 0.1, `duration ${output.duration} vs ${made.duration}`);
  assert.match(output.mimeType, /webm/);
  assert.equal((await counts()).development - before.development, 1);
  await screenshot(page, 'converter-mp4-to-webm');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a truncated file shows the conversion\'s own error and counts as failed', async () => {
  assert.ok(madeMp4, 'the MP4 test ran first');
  const before = await counts();
  const { page, errors } = await openPage(browser, `${server.url}/`);
  const file = join(tmpdir(), `truncated-${process.pid}.mp4`);
  // Cut inside the movie header (Mediabunny writes it first): the file cannot be read.
  const header = madeMp4.indexOf('moov');
  assert.ok(header > 0 && header < 1000, `moov at ${header}`);
  writeFileSync(file, madeMp4.subarray(0, header + 256));
  await page.setInputFiles(byTestId('file'), file);
  await convert(page);
  const { text, body } = await registration(page);
  assert.equal(body.succeeded, false);
  assert.match(text, /^failed — a conversion that fails is never billed/);
  const shown = await page.textContent(byTestId('conversion-error'));
  assert.ok(await page.isVisible(byTestId('conversion-error')));
  assert.ok(shown.length > 0 && !/usage|telemetry|registered/i.test(shown), `the conversion's error, not telemetry's: ${shown}`);
  assert.equal(await page.isVisible(byTestId('result')), false);
  const after = await counts();
  assert.equal(after.failed - before.failed, 1);
  await screenshot(page, 'converter-truncated');
  assert.deepEqual(errors, []);
  await page.close();
});

test('cancelling mid-conversion counts nothing as failed', async () => {
  const before = await counts();
  const { page, errors } = await openPage(browser, `${server.url}/`);
  // A slower machine, as CPUs in the field are: the conversion lasts long enough to cancel.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 8 });
  await page.selectOption(byTestId('output-format'), 'webm');
  await page.selectOption(byTestId('resize'), '720');
  await convert(page);
  await page.waitForFunction(() => document.querySelector('[data-testid="progress"]').value > 0, null, { timeout: 60_000 });
  await page.click(byTestId('cancel'));
  await page.waitForFunction(() => document.querySelector('[data-testid="stage"]').textContent.startsWith('Cancelled'), null, { timeout: 60_000 });
  assert.equal(await page.isVisible(byTestId('telemetry')), false, 'nothing registered');
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  // A conversion after it registers; by then the cancelled one has long settled.
  await page.selectOption(byTestId('resize'), '');
  await convert(page);
  await registration(page);
  const after = await counts();
  assert.equal(after.failed - before.failed, 0);
  assert.equal(after.development - before.development, 1, 'only the conversion that finished');
  await screenshot(page, 'converter-cancelled-then-converted');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a page on a production origin is counted as billable', async () => {
  const before = await counts();
  const { page, errors } = await openPage(browser, `http://shop.example.com:${server.port}/`);
  await convert(page);
  const { text, body } = await registration(page);
  assert.match(text, /^billable — shop\.example\.com is a production origin/);
  assert.equal(body.host, `http://shop.example.com:${server.port}`);
  const after = await counts();
  assert.equal(after.billable - before.billable, 1);
  await screenshot(page, 'converter-production-origin');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the dashboard shows a licensee its chart, totals, origins, limit and CSV', async () => {
  const usage = await server.usage();
  const { page, errors } = await openPage(browser, `${server.url}/dashboard/`);
  await page.fill(byTestId('secret-key'), server.key.secretKey);
  await page.click(byTestId('load'));
  await page.waitForSelector(`${byTestId('report')}:not([hidden])`, { timeout: 30_000 });
  assert.ok(await page.isVisible(`${byTestId('chart')} canvas`), 'the chart is drawn');
  const row = async (kind) => (await page.$$eval(`${byTestId('totals')} tr[data-kind="${kind}"] td`, (cells) => cells.map((c) => Number(c.textContent.replace(/,/g, '')))));
  const [, billable, development, failed] = await row('webcodecConversions');
  assert.deepEqual({ billable, development, failed }, usage.webcodecConversions);
  const origins = await page.textContent(byTestId('origins'));
  assert.ok(origins.includes(`http://127.0.0.1:${server.port}`) && origins.includes(`http://shop.example.com:${server.port}`), origins);
  assert.ok(await page.isVisible(byTestId('limit')));
  assert.equal(Number(await page.getAttribute(byTestId('limit'), 'max')), 1000);
  assert.match(await page.textContent(byTestId('limit-text')), new RegExp(`^${usage.limit.used} of 1,000 billable events this month`));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(byTestId('csv'))]);
  const csv = (await import('node:fs')).readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  assert.equal(csv[0], 'day,origin,event,classification,count');
  const csvTotal = csv.slice(1).map((line) => Number(line.split(',').at(-1))).reduce((a, b) => a + b, 0);
  assert.equal(csvTotal, billable + development + failed);
  // The hourly view of the last 24 hours.
  await page.selectOption(byTestId('range'), '24h');
  await page.waitForFunction(() => document.querySelector('[data-testid="bucket-name"]').textContent === 'hour');
  await screenshot(page, 'dashboard-licensee');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the vendor sees licences and the origins of keyless conversions; a wrong key is explained', async () => {
  // A conversion on a page with no licence key: unlicensed usage.
  const converter = await openPage(browser, `http://shop.example.com:${server.port}/`);
  await converter.page.waitForFunction(() => document.querySelector('[data-testid="license-key"]').value.startsWith('rm_pub_'));
  await converter.page.fill(byTestId('license-key'), '');
  await convert(converter.page);
  const { text, body } = await registration(converter.page);
  assert.equal(body.apiKey, null);
  assert.match(text, /no licence key: counted as unlicensed usage/);
  await converter.page.close();

  // A licence allowed on its own site, its key copied onto another; and keyless
  // events from five invented sites, past the server's cap of 3 new origins a day.
  const copied = server.createKey('copied-key', ['--allowed-origin', 'https://licensee-shop.com']);
  const elsewhere = { event: 'webcodec-conversion', apiKey: copied.publicKey, host: 'https://pirate-copy.com', succeeded: true };
  assert.deepEqual(await server.register(elsewhere, 'https://pirate-copy.com'),
    { success: true, billable: false, classification: 'billable', allowedOrigin: false });
  for (let i = 0; i < 5; i++) {
    const host = `https://invented-${i}.com`;
    await server.register({ event: 'webcodec-conversion', apiKey: null, host, succeeded: true }, host);
  }

  const { page, errors } = await openPage(browser, `${server.url}/dashboard/`);
  await page.fill(byTestId('secret-key'), 'rm_sec_not-a-real-key');
  await page.click(byTestId('load'));
  await page.waitForSelector(`${byTestId('dashboard-error')}:not([hidden])`);
  assert.match(await page.textContent(byTestId('dashboard-error')), /^That key is not accepted: the Bearer key is not a known key, or it has been revoked/);

  await page.fill(byTestId('secret-key'), '');
  await page.fill(byTestId('admin-token'), server.adminToken);
  await page.click(byTestId('load'));
  await page.waitForSelector(`${byTestId('licenses-card')}:not([hidden])`, { timeout: 30_000 });
  assert.equal(await page.isVisible(byTestId('dashboard-error')), false);
  assert.match(await page.textContent(byTestId('licenses')), /demo-tests/);
  const unlicensed = await page.$$eval(`${byTestId('unlicensed-origins')} tbody tr`, (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.ok(unlicensed.some(([origin, licence, billable]) => origin === `http://shop.example.com:${server.port}` && licence === 'none' && Number(billable) >= 1), JSON.stringify(unlicensed));
  assert.ok(unlicensed.some(([origin, licence, billable]) =>
    origin === 'https://pirate-copy.com' && licence === 'copied-key (key not allowed here: not billed)' && billable === '1'), JSON.stringify(unlicensed));
  // shop.example.com and two invented sites were new enough; three were folded.
  assert.ok(unlicensed.some(([origin, licence, billable]) =>
    origin === '(other origins: over the daily cap on new origins)' && licence === 'none' && billable === '3'), JSON.stringify(unlicensed));
  const view = await server.adminView();
  assert.ok(view.unlicensed.origins.some((o) => o.origin === `http://shop.example.com:${server.port}`));
  await screenshot(page, 'dashboard-vendor');
  assert.deepEqual(errors, []);
  await page.close();
});
