// Remotion's own published client, @remotion/licensing (pinned in package.json),
// unchanged, against this usage server. The client always calls
// https://www.remotion.pro; only that address is redirected to the server under
// test (as DNS would be), in this process's fetch: every byte it sends and every
// answer it reads are the real client's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { registerUsageEvent, getUsage } from '@remotion/licensing';
import { serverUrl, publicKey, secretKey } from './helpers.mjs';

const REMOTION = 'https://www.remotion.pro';
const allowedElsewhereKey = process.env.USAGE_TEST_ALLOWED_ELSEWHERE_PUBLIC_KEY;
const realFetch = globalThis.fetch;
const sent = [];

before(() => {
  globalThis.fetch = (url, init) => {
    const target = String(url);
    assert.ok(target.startsWith(`${REMOTION}/`), `the client called ${target}`);
    sent.push({ path: target.slice(REMOTION.length), body: JSON.parse(init.body) });
    return realFetch(serverUrl + target.slice(REMOTION.length), init);
  };
});
after(() => {
  globalThis.fetch = realFetch;
});

test('the published client registers events and reads usage back', async () => {
  const before = await getUsage({ licenseKey: secretKey, since: null });
  const host = 'https://remotion-client-site.com';
  assert.deepEqual(await registerUsageEvent({ licenseKey: publicKey, event: 'webcodec-conversion', host, succeeded: true }),
    { billable: true, classification: 'billable' });
  assert.deepEqual(await registerUsageEvent({ apiKey: publicKey, event: 'cloud-render', host: null, succeeded: false }),
    { billable: false, classification: 'failed' });
  assert.deepEqual(
    await registerUsageEvent({ licenseKey: publicKey, event: 'webcodec-conversion', host: 'http://localhost:3000', succeeded: true }),
    { billable: false, classification: 'development' });
  const after = await getUsage({ licenseKey: secretKey, since: null });
  assert.equal(after.webcodecConversions.billable - before.webcodecConversions.billable, 1);
  assert.equal(after.webcodecConversions.development - before.webcodecConversions.development, 1);
  assert.equal(after.cloudRenders.failed - before.cloudRenders.failed, 1);
  assert.deepEqual(after.webRenders, after.webcodecConversions);
  assert.deepEqual(sent.map((s) => s.path).slice(0, 2), ['/api/track/get-usage', '/api/track/register-usage-point']);
});

test("the published client reads the answer for a key used where it is not allowed", async () => {
  assert.ok(allowedElsewhereKey, 'USAGE_TEST_ALLOWED_ELSEWHERE_PUBLIC_KEY is set by scripts/test.sh');
  const answer = await registerUsageEvent({
    licenseKey: allowedElsewhereKey, event: 'webcodec-conversion', host: 'https://copied-key-site.com', succeeded: true,
  });
  assert.deepEqual(answer, { billable: false, classification: 'billable' });
});

test("the published client's errors carry the server's words", async () => {
  await assert.rejects(
    registerUsageEvent({ licenseKey: publicKey, event: 'webcodec-conversion', host: `${'x'.repeat(400)}://a.com`, succeeded: true }),
    /host `x+…` is not a valid origin: it must be at most 300 characters/);
  await assert.rejects(getUsage({ licenseKey: publicKey, since: null }), /getUsage needs the secret key/);
});
