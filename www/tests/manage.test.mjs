// The dashboard's management views in headless Chromium against the real usage
// server: the vendor creates, changes, rotates and revokes a licence, adds a
// webhook endpoint and watches its deliveries (verified by the reference
// Standard Webhooks library in the receiver), and a read-only token sees it all
// and sends no change. Each step is checked against the server's own API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, byTestId, screenshot, startWebhookReceiver } from './harness.mjs';

let server;
let browser;
let receiver;

before(async () => {
  server = await startServer();
  browser = await launchBrowser(server.port);
  receiver = await startWebhookReceiver();
});

after(async () => {
  await browser?.close();
  server?.stop();
  receiver?.stop();
});

/** A dashboard page with the clipboard allowed, failing on any uncaught page error. */
async function openDashboard() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${server.url}/dashboard/`);
  return { page, errors, context };
}

/** Waits until the dialog `testId` has closed (it stays open while its change is refused). */
const closed = (page, testId) => page.waitForSelector(`${byTestId(testId)}:not([open])`, { state: 'attached' });

async function signIn(page, token) {
  await page.fill(byTestId('admin-token'), token);
  await page.click(byTestId('load'));
  await page.waitForSelector(`${byTestId('tabs')}:not([hidden])`, { timeout: 30_000 });
}

const licenceRow = (name) => `${byTestId('licence-table')} tr[data-licence="${name}"]`;
const cellTexts = (page, row) => page.$$eval(`${row} td`, (cells) => cells.map((cell) => cell.textContent));

async function licenceNamed(name) {
  const { body } = await server.api('GET', '/api/admin/licenses');
  return body.licenses.filter((licence) => licence.name === name);
}

/** The new keys or secret the page shows once, after copying the secret with its button. */
async function revealedSecret(page) {
  await page.waitForSelector(`${byTestId('new-secret')}:not([hidden])`);
  const secret = await page.inputValue(byTestId('new-secret-value'));
  await page.click(byTestId('copy-secret'));
  await page.waitForFunction(() => document.querySelector('[data-testid="copy-status"]').textContent.startsWith('Copied'));
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the copy button copies the secret');
  return {
    title: await page.textContent(byTestId('new-secret-title')),
    warning: await page.textContent(byTestId('new-secret-warning')),
    publicKey: await page.inputValue(byTestId('new-public-key')),
    secret,
  };
}

test('the vendor creates, changes, rotates and revokes a licence in the dashboard', async () => {
  const { page, errors, context } = await openDashboard();
  await signIn(page, server.adminToken);
  assert.equal(await page.textContent(byTestId('token-kind')), 'demo-tests (full token)');
  assert.equal(await page.isVisible(byTestId('read-only-notice')), false);
  await page.click(byTestId('tab-licences'));
  await page.waitForSelector(licenceRow('demo-tests'));
  assert.equal(await page.isVisible(byTestId('report')), false, 'one view at a time');

  // Create: the keys are shown once, with a warning, and they work.
  await page.fill(byTestId('licence-name'), 'Acme Shop');
  await page.fill(byTestId('licence-limit'), '5');
  await page.fill(byTestId('licence-origins'), 'https://acme-shop.example.com\n  \nhttps://*.acme.example.com');
  await page.click(byTestId('licence-create-submit'));
  const created = await revealedSecret(page);
  assert.equal(created.title, 'Keys for Acme Shop');
  assert.match(created.warning, /shown only this once/);
  assert.match(created.publicKey, /^rm_pub_/);
  assert.match(created.secret, /^rm_sec_/);
  const [licence] = await licenceNamed('Acme Shop');
  assert.deepEqual([licence.monthlyLimit, licence.allowedOrigins, licence.publicKey],
    [5, ['https://acme-shop.example.com', 'https://*.acme.example.com'], created.publicKey]);
  const registration = { event: 'webcodec-conversion', apiKey: created.publicKey, host: 'https://acme-shop.example.com', succeeded: true };
  assert.equal((await server.register(registration, 'https://acme-shop.example.com')).billable, true);
  const usage = await fetch(`${server.url}/api/track/get-usage`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: created.secret, since: null }),
  });
  assert.equal((await usage.json()).webcodecConversions.billable, 1, 'the secret key shown reads the licence');
  await page.click(byTestId('secret-saved'));
  assert.equal(await page.isVisible(byTestId('new-secret')), false);
  assert.equal(await page.inputValue(byTestId('new-secret-value')), '', 'the secret leaves the page once saved');
  const [, , limit, origins, status] = await cellTexts(page, licenceRow('Acme Shop'));
  assert.deepEqual([limit, origins, status], ['5', 'https://acme-shop.example.com\nhttps://*.acme.example.com', 'active']);

  // A refused change is explained in words, and nothing is stored.
  await page.fill(byTestId('licence-name'), 'Acme Shop');
  await page.click(byTestId('licence-create-submit'));
  await page.waitForSelector(`${byTestId('manage-error')}:not([hidden])`);
  assert.match(await page.textContent(byTestId('manage-error')), /^That cannot be done: name: `Acme Shop` is taken by another license\.$/);
  assert.equal((await licenceNamed('Acme Shop')).length, 1);

  // Change the limit and the origins; a bad origin is refused inside the dialog, naming the field.
  await page.click(`${licenceRow('Acme Shop')} ${byTestId('licence-change')}`);
  await page.waitForSelector(`${byTestId('licence-dialog')}[open]`);
  await page.fill(byTestId('edit-origins'), 'acme-shop.example.com');
  await page.click(byTestId('edit-save'));
  await page.waitForSelector(`${byTestId('licence-edit-error')}:not([hidden])`);
  assert.match(await page.textContent(byTestId('licence-edit-error')), /^Not accepted: allowedOrigins/);
  assert.deepEqual((await licenceNamed('Acme Shop'))[0].allowedOrigins, licence.allowedOrigins, 'nothing changed');
  await page.fill(byTestId('edit-limit'), '10');
  await page.fill(byTestId('edit-origins'), 'https://acme-shop.example.com\nhttps://acme.example.org');
  await page.click(byTestId('edit-save'));
  await closed(page, 'licence-dialog');
  await page.waitForFunction((row) => document.querySelector(row)?.cells[2].textContent === '10', licenceRow('Acme Shop'));
  const changed = (await licenceNamed('Acme Shop'))[0];
  assert.deepEqual([changed.monthlyLimit, changed.allowedOrigins], [10, ['https://acme-shop.example.com', 'https://acme.example.org']]);

  // Rotate with an hour's grace: new keys shown once, both pairs accepted meanwhile.
  const before = Date.now();
  await page.click(`${licenceRow('Acme Shop')} ${byTestId('licence-rotate')}`);
  await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
  assert.equal(await page.textContent(byTestId('confirm-title')), 'Rotate the keys of Acme Shop');
  await page.selectOption(byTestId('rotate-grace'), '3600');
  await page.click(byTestId('confirm-ok'));
  const rotated = await revealedSecret(page);
  assert.equal(rotated.title, 'New keys for Acme Shop');
  assert.notEqual(rotated.publicKey, created.publicKey);
  assert.equal(await page.isVisible(byTestId('manage-error')), false, 'the earlier error is gone');
  const afterRotation = (await licenceNamed('Acme Shop'))[0];
  assert.deepEqual(afterRotation.keys.map((key) => key.publicKey), [created.publicKey, rotated.publicKey]);
  const expires = afterRotation.keys[0].expiresAtMs;
  assert.ok(expires >= before + 3_600_000 && expires <= Date.now() + 3_600_000, `old keys expire in an hour: ${expires}`);
  assert.match((await cellTexts(page, licenceRow('Acme Shop')))[4], /^active; the previous key works until \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  for (const apiKey of [created.publicKey, rotated.publicKey]) {
    assert.equal((await server.register({ ...registration, apiKey }, 'https://acme-shop.example.com')).billable, true);
  }
  await screenshot(page, 'dashboard-licences');
  await page.click(byTestId('secret-saved'));

  // Revoke, after saying what it does; the row keeps the licence, without actions.
  await page.click(`${licenceRow('Acme Shop')} ${byTestId('licence-revoke')}`);
  await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
  assert.match(await page.textContent(byTestId('confirm-text')), /Every key of this licence is refused from now on/);
  await page.click(byTestId('confirm-ok'));
  await closed(page, 'confirm-dialog');
  await page.waitForFunction((row) => document.querySelector(row)?.cells[4].textContent.startsWith('revoked'), licenceRow('Acme Shop'));
  assert.equal(await page.$$eval(`${licenceRow('Acme Shop')} button`, (buttons) => buttons.length), 0);
  assert.notEqual((await licenceNamed('Acme Shop'))[0].revokedAtMs, null);

  // The usage report's licence table and the audit log have caught up.
  await page.click(byTestId('tab-usage'));
  await page.waitForFunction(() => document.querySelector('[data-testid="licenses"]').textContent.includes('Acme Shop (revoked)'));
  await page.click(byTestId('tab-changes'));
  await page.waitForSelector(`${byTestId('audit-table')} tbody tr:nth-child(4)`);
  const audit = await page.$$eval(`${byTestId('audit-table')} tbody tr`, (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  const acme = audit.filter(([, , , subject]) => subject === 'Acme Shop');
  assert.deepEqual(acme.map(([, who, what]) => `${who} ${what}`), [
    'token:demo-tests license.revoked', 'token:demo-tests license.rotated', 'token:demo-tests license.changed', 'token:demo-tests license.created',
  ]);
  const rotation = acme.find(([, , what]) => what === 'license.rotated')[4];
  assert.match(rotation, /^previousKeysExpireAt: \d{4}-\d\d-\d\d \d\d:\d\d UTC; publicKey: "rm_pub_/, 'times in words');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the vendor adds a webhook endpoint and sees its deliveries', async () => {
  const { page, errors, context } = await openDashboard();
  await signIn(page, server.adminToken);
  await page.click(byTestId('tab-webhooks'));
  await page.waitForSelector(`${byTestId('webhook-events')} input[value="license.created"]`);
  await page.fill(byTestId('webhook-url'), receiver.url);
  await page.fill(byTestId('webhook-description'), 'billing');
  await page.check(`${byTestId('webhook-events')} input[value="license.created"]`);
  await page.check(`${byTestId('webhook-events')} input[value="license.revoked"]`);
  await page.click(byTestId('webhook-create-submit'));
  const shown = await revealedSecret(page);
  assert.equal(shown.title, `Signing secret for ${receiver.url}`);
  assert.match(shown.secret, /^whsec_/);
  assert.equal(await page.isVisible(byTestId('new-public-key-row')), false);
  await receiver.setSecret(shown.secret);
  await page.click(byTestId('secret-saved'));
  const { body: { endpoints: [endpoint] } } = await server.api('GET', '/api/admin/webhooks');
  assert.deepEqual([endpoint.url, endpoint.description, endpoint.eventTypes], [receiver.url, 'billing', ['license.created', 'license.revoked']]);

  // A licence made elsewhere: its message reaches the receiver, verified, and the
  // deliveries list, which refreshes itself while one is pending, shows it delivered.
  await server.api('POST', '/api/admin/licenses', { name: 'Hooked Shop' });
  const message = await receiver.next((request) => request.body?.type === 'license.created' && request.body.data.name === 'Hooked Shop');
  assert.equal(message.verified, true, message.error);
  const endpointRow = `${byTestId('webhook-table')} tr[data-endpoint="${endpoint.id}"]`;
  await page.click(`${endpointRow} ${byTestId('webhook-deliveries')}`);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="deliveries-table"] tbody tr')]
    .some((row) => row.cells[3]?.textContent === 'delivered'), undefined, { timeout: 20_000 });
  const deliveries = await page.$$eval(`${byTestId('deliveries-table')} tbody tr`, (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  assert.deepEqual(deliveries.map(([, type, id, status, attempts, answer]) => [type, id, status, attempts, answer]),
    [['license.created', message.id, 'delivered', '1', 'HTTP 204']]);
  await screenshot(page, 'dashboard-webhooks');

  // Disable (messages wait), then delete.
  await page.click(`${endpointRow} ${byTestId('webhook-toggle')}`);
  await page.waitForFunction((row) => document.querySelector(row)?.cells[3].textContent === 'disabled: messages wait', endpointRow);
  assert.equal((await server.api('GET', `/api/admin/webhooks/${endpoint.id}`)).body.endpoint.disabled, true);
  await page.click(`${endpointRow} ${byTestId('webhook-delete')}`);
  await page.waitForSelector(`${byTestId('confirm-dialog')}[open]`);
  await page.click(byTestId('confirm-ok'));
  await page.waitForFunction(() => document.querySelector('[data-testid="webhook-table"] tbody').textContent === 'No endpoints yet.');
  assert.equal(await page.isVisible(byTestId('deliveries-card')), false);
  assert.equal((await server.api('GET', `/api/admin/webhooks/${endpoint.id}`)).status, 404);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a read-only token sees every licence, endpoint and change, and sends no change', async () => {
  await server.api('POST', '/api/admin/licenses', { name: 'Seen Shop', monthlyLimit: 100 });
  const { body: { endpoint } } = await server.api('POST', '/api/admin/webhooks', { url: receiver.url, description: 'crm' });
  const reader = server.createAdminToken('reporting', { readOnly: true });
  const { page, errors, context } = await openDashboard();
  const adminRequests = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/admin/')) adminRequests.push(`${request.method()} ${new URL(request.url()).pathname}`);
  });
  await signIn(page, reader);
  assert.equal(await page.textContent(byTestId('token-kind')), 'reporting (read-only token)');
  assert.equal(await page.isVisible(byTestId('read-only-notice')), true);

  await page.click(byTestId('tab-licences'));
  await page.waitForSelector(licenceRow('Seen Shop'));
  assert.equal(await page.isVisible(byTestId('licence-create')), false);
  assert.equal((await cellTexts(page, licenceRow('Seen Shop')))[2], '100');
  assert.equal(await page.$$eval(`${byTestId('licence-table')} button`, (buttons) => buttons.length), 0);

  await page.click(byTestId('tab-webhooks'));
  const endpointRow = `${byTestId('webhook-table')} tr[data-endpoint="${endpoint.id}"]`;
  await page.waitForSelector(endpointRow);
  assert.equal(await page.isVisible(byTestId('webhook-create')), false);
  assert.deepEqual(await page.$$eval(`${endpointRow} button`, (buttons) => buttons.map((b) => b.textContent)), ['Deliveries']);
  await page.click(`${endpointRow} ${byTestId('webhook-deliveries')}`);
  await page.waitForSelector(`${byTestId('deliveries-card')}:not([hidden])`);

  await page.click(byTestId('tab-changes'));
  await page.waitForFunction(() => document.querySelector('[data-testid="audit-table"] tbody')?.textContent.includes('Seen Shop'));
  await screenshot(page, 'dashboard-read-only');
  assert.ok(adminRequests.length >= 5, adminRequests.join(', '));
  assert.deepEqual(adminRequests.filter((request) => !request.startsWith('GET ')), [], 'a read-only token sends no change');
  assert.deepEqual(errors, []);
  await context.close();
});
